// The operations on vars that JavaScript has no one expression for, with Rust's semantics: what
// `refract_core::Var`'s methods compile to as `$rf.<name>(…)`. Pure functions, no DOM, no React.

/**
 * The number of Unicode scalar values in `s` (Rust's `s.chars().count()`), not UTF-16 units.
 * @param {string} s
 * @returns {number}
 */
export function charCount(s) {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
