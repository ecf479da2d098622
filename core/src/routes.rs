//! Routes: the pages' path patterns in React Router's syntax, checked once, and which one a path
//! matches, with its parameters.
//!
//! A pattern is `/` then segments separated by `/`: a literal (`posts`), a parameter (`:id`), an
//! optional segment (`:lang?`, `edit?`), or, last, a splat (`*`, the rest of the path, named `*`).
//! A path may match several patterns; as React Router does (its `computeScore`, v6/v7), the most
//! specific wins: each pattern (with each optional segment present or absent) scores its segment
//! count, plus 10 per literal and 3 per parameter, minus 2 for a splat; on a tie the pattern
//! declared first wins. Literals match without regard to ASCII case, as React Router's do by
//! default; parameters are percent-decoded.

use std::collections::BTreeMap;

/// The file of a built app (at the root of its assets) that lists its pages' routes, a JSON array
/// of patterns: the compiler writes it, and the gateway reads it to answer unknown paths with 404.
pub const ROUTES_FILE: &str = "refract-routes.json";

/// The page of a built app served, with status 404, for a path that matches no route.
pub const NOT_FOUND_FILE: &str = "404.html";

/// The app's shell of a built app with no page's head in it: what a route without its own HTML
/// file (a parameterised one, or one whose head is a var) is served, since `index.html` carries
/// the root page's head.
pub const SHELL_FILE: &str = "refract-shell.html";

/// Why a set of routes is not usable.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// A route that is not a pattern (no leading `/`, an empty or repeated parameter name, a `*`
    /// not last or not alone in its segment, a character a path cannot hold).
    #[error("bad route `{route}`: {why}")]
    Malformed {
        /// The route.
        route: String,
        /// What is wrong.
        why: String,
    },
    /// Two routes match exactly the same paths (`/posts/:id` and `/posts/:slug`).
    #[error("routes `{first}` and `{second}` match the same paths; keep one")]
    Clash {
        /// The route declared first.
        first: String,
        /// The route declared after it.
        second: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Splat,
}

/// One pattern with each optional segment decided: what is matched and scored.
#[derive(Debug, Clone)]
struct Variant {
    segments: Vec<Segment>,
    score: i32,
}

impl Variant {
    fn new(segments: Vec<Segment>) -> Self {
        let mut score = segments.len() as i32;
        for s in &segments {
            score += match s {
                Segment::Literal(_) => 10,
                Segment::Param(_) => 3,
                Segment::Splat => -2,
            };
        }
        Variant { segments, score }
    }

    /// The shape of what it matches (parameter names left out, literals in lower case as they
    /// match), to find clashes.
    fn shape(&self) -> Vec<Option<String>> {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => Some(l.to_ascii_lowercase()),
                Segment::Param(_) => None,
                Segment::Splat => Some("*".to_owned()),
            })
            .collect()
    }

    /// The parameters of `path` (its segments, still encoded) if it matches.
    fn matches(&self, parts: &[&str]) -> Option<BTreeMap<String, String>> {
        let mut params = BTreeMap::new();
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Splat => {
                    params.insert(
                        "*".to_owned(),
                        decode(&parts[i.min(parts.len())..].join("/")),
                    );
                    return Some(params);
                }
                Segment::Literal(l) => {
                    if !parts
                        .get(i)
                        .is_some_and(|p| decode(p).eq_ignore_ascii_case(l))
                    {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    let part = parts.get(i).filter(|p| !p.is_empty())?;
                    params.insert(name.clone(), decode(part));
                }
            }
        }
        (parts.len() == self.segments.len()).then_some(params)
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A path's segments: `/posts/42/` → `["posts", "42"]`, `/` → `[]` (a trailing slash is ignored).
fn split(path: &str) -> Vec<&str> {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    }
}

/// The routes of an app's pages, in the order they were declared.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    /// `(pattern, its variants)`.
    routes: Vec<(String, Vec<Variant>)>,
}

/// The route a path matched: its pattern and parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteMatch {
    /// The pattern, as declared (`/posts/:id`).
    pub route: String,
    /// The parameters by name, percent-decoded (`{"id": "42"}`; a splat's is `*`).
    pub params: BTreeMap<String, String>,
}

impl Routes {
    /// Checks `routes` (each a pattern) and keeps them in order.
    ///
    /// # Errors
    /// [`RouteError::Malformed`] for a route that is no pattern, [`RouteError::Clash`] for two
    /// that match the same paths.
    pub fn new<'a>(routes: impl IntoIterator<Item = &'a str>) -> Result<Routes, RouteError> {
        let mut table = Routes::default();
        for route in routes {
            let variants = parse(route)?;
            for (earlier, theirs) in &table.routes {
                let clash = variants
                    .iter()
                    .any(|v| theirs.iter().any(|t| t.shape() == v.shape()));
                if clash {
                    return Err(RouteError::Clash {
                        first: earlier.clone(),
                        second: route.to_owned(),
                    });
                }
            }
            table.routes.push((route.to_owned(), variants));
        }
        Ok(table)
    }

    /// Whether `route` (a valid pattern) has no params, optional segments or splat: one path.
    pub fn is_static(route: &str) -> bool {
        !route.contains([':', '*', '?'])
    }

    /// The route `path` (percent-encoded, from `/`) matches, if any: the most specific one.
    pub fn find(&self, path: &str) -> Option<RouteMatch> {
        let parts = split(path);
        let mut best: Option<(i32, RouteMatch)> = None;
        for (route, variants) in &self.routes {
            for variant in variants {
                let Some(params) = variant.matches(&parts) else {
                    continue;
                };
                if best
                    .as_ref()
                    .is_none_or(|(score, _)| variant.score > *score)
                {
                    let found = RouteMatch {
                        route: route.clone(),
                        params,
                    };
                    best = Some((variant.score, found));
                }
            }
        }
        best.map(|(_, found)| found)
    }
}

/// The most optional segments a route may have (each doubles the forms it is matched in).
const MAX_OPTIONAL: usize = 8;

/// The variants of `route` (each optional segment present, then absent).
fn parse(route: &str) -> Result<Vec<Variant>, RouteError> {
    let malformed = |why: &str| RouteError::Malformed {
        route: route.to_owned(),
        why: why.to_owned(),
    };
    if !route.starts_with('/') {
        return Err(malformed("a route starts with `/`"));
    }
    if route.chars().any(char::is_whitespace) {
        return Err(malformed("a route holds no spaces"));
    }
    let parts = split(route);
    let mut names = Vec::new();
    // Each segment: what it is, and whether it is optional.
    let mut segments = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let (part, optional) = match part.strip_suffix('?') {
            Some(p) => (p, true),
            None => (*part, false),
        };
        let segment = if part == "*" {
            if i + 1 != parts.len() || optional {
                return Err(malformed("`*` is the last segment, and not optional"));
            }
            Segment::Splat
        } else if let Some(name) = part.strip_prefix(':') {
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(malformed(
                    "a parameter is `:` and a name of letters, digits, `_` and `-`",
                ));
            }
            if names.contains(&name) {
                return Err(malformed(&format!("the parameter `{name}` appears twice")));
            }
            names.push(name);
            Segment::Param(name.to_owned())
        } else if part.contains(['*', ':', '?', '#']) || part.is_empty() {
            return Err(malformed(&format!(
                "the segment `{part}` is neither a literal, a `:parameter` nor `*`"
            )));
        } else {
            Segment::Literal(part.to_owned())
        };
        segments.push((segment, optional));
    }
    if segments.iter().filter(|(_, optional)| *optional).count() > MAX_OPTIONAL {
        return Err(malformed(&format!(
            "a route has at most {MAX_OPTIONAL} optional segments"
        )));
    }
    // Explode the optional segments: 2^n variants.
    let mut variants: Vec<Vec<Segment>> = vec![Vec::new()];
    for (segment, optional) in segments {
        let mut next = Vec::new();
        for v in variants {
            let mut with = v.clone();
            with.push(segment.clone());
            next.push(with);
            if optional {
                next.push(v);
            }
        }
        variants = next;
    }
    Ok(variants.into_iter().map(Variant::new).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(routes: &[&str]) -> Routes {
        Routes::new(routes.iter().copied()).unwrap()
    }

    fn found(t: &Routes, path: &str) -> Option<(String, Vec<(String, String)>)> {
        t.find(path)
            .map(|m| (m.route, m.params.into_iter().collect::<Vec<_>>()))
    }

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_most_specific_route_wins_and_params_are_decoded() {
        let t = table(&["/", "/posts/:id", "/posts/new", "/docs/*", "/:lang?/about"]);
        assert_eq!(found(&t, "/"), Some(("/".into(), p(&[]))));
        assert_eq!(
            found(&t, "/posts/42"),
            Some(("/posts/:id".into(), p(&[("id", "42")])))
        );
        assert_eq!(found(&t, "/posts/new"), Some(("/posts/new".into(), p(&[]))));
        assert_eq!(
            found(&t, "/posts/hello%20world/"),
            Some(("/posts/:id".into(), p(&[("id", "hello world")])))
        );
        assert_eq!(
            found(&t, "/docs/guide/intro"),
            Some(("/docs/*".into(), p(&[("*", "guide/intro")])))
        );
        assert_eq!(
            found(&t, "/docs"),
            Some(("/docs/*".into(), p(&[("*", "")])))
        );
        assert_eq!(found(&t, "/about"), Some(("/:lang?/about".into(), p(&[]))));
        assert_eq!(
            found(&t, "/de/about"),
            Some(("/:lang?/about".into(), p(&[("lang", "de")])))
        );
        assert_eq!(found(&t, "/posts"), None);
        assert_eq!(found(&t, "/posts/1/2"), None);
    }

    #[test]
    fn a_splat_loses_to_anything_more_specific() {
        let t = table(&["/*", "/shop/:item"]);
        assert_eq!(found(&t, "/shop/hat").unwrap().0, "/shop/:item");
        assert_eq!(found(&t, "/elsewhere").unwrap().0, "/*");
    }

    #[test]
    fn malformed_and_clashing_routes_are_refused_naming_them() {
        for bad in [
            "posts", "/a/*/b", "/:", "/:a/:a", "/a b/c", "/x*y", "/a//b", "/*?",
        ] {
            let err = Routes::new([bad]).unwrap_err();
            assert!(
                matches!(&err, RouteError::Malformed { route, .. } if route == bad),
                "{bad}: {err}"
            );
        }
        let err = Routes::new(["/posts/:id", "/about", "/posts/:slug"]).unwrap_err();
        assert_eq!(
            err,
            RouteError::Clash {
                first: "/posts/:id".into(),
                second: "/posts/:slug".into()
            }
        );
        assert!(err.to_string().contains("/posts/:id") && err.to_string().contains("/posts/:slug"));
        // An optional segment clashes with the route it can become; literals match in any case.
        assert!(Routes::new(["/about", "/:lang?/about"]).is_err());
        assert!(Routes::new(["/About", "/about"]).is_err());
        // Each optional segment doubles the forms: a bound keeps that small.
        let many = format!("/{}", ["a?"; MAX_OPTIONAL + 1].join("/"));
        assert!(Routes::new([many.as_str()]).is_err());
        let t = table(&["/posts/:post-id"]);
        assert_eq!(found(&t, "/posts/7").unwrap().1, p(&[("post-id", "7")]));
    }
}
