//! Icons by name: `icon("arrow-right")` is lucide's `ArrowRight` (the `lucide-react` package,
//! added to the app's `package.json` when a page uses an icon), with a typed size, colour and
//! stroke width.
//!
//! The names are lucide's kebab-case ones (those on <https://lucide.dev/icons>, old aliases
//! included), checked against the list of the pinned lucide-react version
//! ([`LUCIDE_VERSION`]; `lucide_icons.txt` beside this file, made by
//! `scripts/lucide-icon-names.mjs`). [`icon()`] panics on an unknown name when the app builds its
//! pages at start, suggesting close names; the [`icon!`](crate::icon!) macro makes the same
//! check at compile time.

use refract_core::IntoVar;

use crate::component::{Component, Element, Node};
use crate::paint::Paint;

/// The npm package icons come from.
pub const LUCIDE_PACKAGE: &str = "lucide-react";

/// Its version range in `package.json`: patch releases of the version the name list was made
/// from (lucide adds icons in minor releases, so a newer list is made with the script).
pub const LUCIDE_VERSION: &str = "~1.81.0";

/// `kebab-name LucideComponent` per line; `#` lines are comments.
const NAMES: &str = include_str!("lucide_icons.txt");

/// Whether `name` is a lucide icon of [`LUCIDE_VERSION`]. A `const fn`, so that
/// [`icon!`](crate::icon!) checks a name at compile time.
pub const fn is_icon(name: &str) -> bool {
    let name = name.as_bytes();
    if name.is_empty() {
        return false;
    }
    // Only what lucide's names are made of: never a comment line's `#` or a space.
    let mut k = 0;
    while k < name.len() {
        if !matches!(name[k], b'a'..=b'z' | b'0'..=b'9' | b'-') {
            return false;
        }
        k += 1;
    }
    let names = NAMES.as_bytes();
    let mut i = 0;
    while i < names.len() {
        let mut j = 0;
        while j < name.len() && i + j < names.len() && names[i + j] == name[j] {
            j += 1;
        }
        if j == name.len() && i + j < names.len() && names[i + j] == b' ' {
            return true;
        }
        while i < names.len() && names[i] != b'\n' {
            i += 1;
        }
        i += 1;
    }
    false
}

/// The name list's entries: `(kebab-name, component)`.
fn entries() -> impl Iterator<Item = (&'static str, &'static str)> {
    NAMES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
}

/// The component lucide-react exports for the icon `name` (`LucideArrowRight`), if there is one.
pub fn lucide_component(name: &str) -> Option<&'static str> {
    entries().find(|(n, _)| *n == name).map(|(_, c)| c)
}

/// Up to five icon names close to `name`: the nearest by edit distance, then those that contain
/// it.
pub fn similar_icons(name: &str) -> Vec<&'static str> {
    let limit = (name.chars().count() / 3).max(2);
    let mut near: Vec<(usize, &'static str)> = entries()
        .map(|(n, _)| (edit_distance(name, n), n))
        .filter(|(d, _)| *d <= limit)
        .collect();
    near.sort();
    let mut names: Vec<&'static str> = near.into_iter().map(|(_, n)| n).collect();
    if !name.is_empty() {
        for (n, _) in entries() {
            if n.contains(name) && !names.contains(&n) {
                names.push(n);
            }
        }
    }
    names.truncate(5);
    names
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// A lucide icon: an `<svg class="lucide lucide-NAME">`, 24 px and stroked in the text's colour
/// unless told otherwise, hidden from screen readers unless it has a [`label`](Icon::label).
#[derive(Clone, Debug)]
pub struct Icon(Component);

/// The lucide icon `name` (kebab-case, as on <https://lucide.dev/icons>):
/// `icon("arrow-right").size(16).color(Paint::Accent)`. [`icon!`](crate::icon!) checks the name
/// at compile time instead.
///
/// # Panics
/// When lucide has no icon of that name (pages are built when the app starts, so it stops at
/// once, naming the icon and close names).
pub fn icon(name: &str) -> Icon {
    let Some(component) = lucide_component(name) else {
        let similar = similar_icons(name);
        let hint = if similar.is_empty() {
            String::new()
        } else {
            format!("; did you mean {}?", similar.join(", "))
        };
        panic!(
            "lucide-react {LUCIDE_VERSION} has no icon named `{name}` (names are kebab-case, as on https://lucide.dev/icons){hint}"
        );
    };
    Icon(Component::external(
        LUCIDE_PACKAGE,
        LUCIDE_VERSION,
        Some(component),
        component,
    ))
}

/// [`icon()`](crate::icon()) with the name checked at compile time: `icon!("arrow-right")`. An
/// unknown name is a compile error (its message names the icon; see
/// [`similar_icons`](crate::similar_icons) or <https://lucide.dev/icons> for close ones).
///
/// ```
/// # use refract_compiler::icon;
/// let next = icon!("arrow-right").size(16);
/// ```
///
/// ```compile_fail
/// # use refract_compiler::icon;
/// let typo = icon!("arow-right");
/// ```
#[macro_export]
macro_rules! icon {
    ($name:literal) => {{
        const _: () = ::core::assert!(
            $crate::is_icon($name),
            ::core::concat!(
                "lucide-react has no icon named \"",
                $name,
                "\" (names are kebab-case, as on https://lucide.dev/icons)"
            )
        );
        $crate::icon($name)
    }};
}

impl Icon {
    /// Width and height in CSS pixels (default 24), a number or a var.
    pub fn size(self, px: impl IntoVar<u32>) -> Self {
        self.prop("size", px.into_var())
    }

    /// The stroke's colour (default: the text's, [`Paint::CurrentColor`]).
    pub fn color(self, paint: impl Into<Paint>) -> Self {
        self.prop("color", paint.into().css())
    }

    /// The stroke's width in the icon's own 24-unit grid (default 2).
    pub fn stroke_width(self, width: impl IntoVar<f64>) -> Self {
        self.prop("strokeWidth", width.into_var())
    }

    /// Keeps the stroke [`stroke_width`](Icon::stroke_width) pixels wide whatever the size
    /// (lucide's `absoluteStrokeWidth`).
    pub fn absolute_stroke_width(self) -> Self {
        self.prop("absoluteStrokeWidth", true)
    }

    /// What a screen reader says for the icon (`aria-label`); without one it is hidden from
    /// them (`aria-hidden`), as a decoration next to text.
    pub fn label(self, label: impl IntoVar<String>) -> Self {
        self.prop("aria-label", label.into_var())
            .prop("role", "img")
    }
}

impl Element for Icon {
    fn element(&mut self) -> &mut Component {
        &mut self.0
    }
}

impl From<Icon> for Node {
    fn from(icon: Icon) -> Node {
        Node::Element(icon.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_lucide_components() {
        assert_eq!(lucide_component("arrow-right"), Some("LucideArrowRight"));
        assert_eq!(lucide_component("a-arrow-down"), Some("LucideAArrowDown"));
        assert!(is_icon("arrow-right") && is_icon("zoom-out") && is_icon("a-arrow-down"));
        for bad in [
            "",
            "arrow",
            "ArrowRight",
            "arrow-right ",
            "#",
            "# The",
            "arrow-righ",
        ] {
            assert!(!is_icon(bad), "{bad:?}");
            assert_eq!(lucide_component(bad), None, "{bad:?}");
        }
        // The const check and the lookup agree on every name.
        assert!(entries().all(|(n, _)| is_icon(n)));
        assert!(entries().count() > 1500);
    }

    #[test]
    fn unknown_names_get_suggestions() {
        assert_eq!(similar_icons("arow-right")[0], "arrow-right");
        assert!(similar_icons("arrowright").contains(&"arrow-right"));
        assert!(
            similar_icons("dashboard")
                .iter()
                .any(|n| n.contains("dashboard"))
        );
        let err = std::panic::catch_unwind(|| icon("arow-right")).unwrap_err();
        let message = err.downcast_ref::<String>().unwrap();
        assert!(message.contains("no icon named `arow-right`"), "{message}");
        assert!(message.contains("did you mean arrow-right"), "{message}");
    }

    #[test]
    fn the_macro_checks_at_compile_time() {
        let i = crate::icon!("layout-dashboard");
        assert!(
            matches!(&i.0.source, crate::Source::External(e) if e.local == "LucideLayoutDashboard")
        );
    }
}
