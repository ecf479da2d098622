//! Typography: headings, text, code, block quotes, keyboard keys, links, emphasis, strong text
//! and inline quotes.

use super::*;
use crate::component::Source;

tokens! {
    /// The HTML element a heading renders as (`h1` by default).
    HeadingLevel { H1 = "h1", H2 = "h2", H3 = "h3", H4 = "h4", H5 = "h5", H6 = "h6" }
    /// The HTML element text renders as (`span` by default).
    TextTag { Span = "span", Div = "div", Label = "label", P = "p" }
    /// When a link is underlined.
    Underline { Auto = "auto", Always = "always", Hover = "hover", None = "none" }
}

components! {
    /// A heading (Radix `Heading`) showing `content`: `heading("Orders").size(S7)`. It renders
    /// as `h1` unless given a [`level`](Heading::level).
    Heading = radix("Heading"),
        fn heading(content: impl Into<Node>) { .child(content) },
        props {
            size: Responsive<Size<9>>,
            weight: Responsive<Weight>,
            align: Responsive<TextAlign>,
            trim: Responsive<Trim>,
            truncate: bool,
            wrap: Responsive<TextWrap>,
            color: Color,
            high_contrast: bool,
            /// The HTML element (Radix's `as`).
            level("as"): HeadingLevel,
        },
        with [MarginProps];

    /// Text (Radix `Text`) showing `content`, a `span` unless given a [`tag`](Text::tag).
    Text = radix("Text"),
        fn text(content: impl Into<Node>) { .child(content) },
        props {
            size: Responsive<Size<9>>,
            weight: Responsive<Weight>,
            align: Responsive<TextAlign>,
            trim: Responsive<Trim>,
            truncate: bool,
            wrap: Responsive<TextWrap>,
            color: Color,
            high_contrast: bool,
            /// The HTML element (Radix's `as`).
            tag("as"): TextTag,
        },
        with [MarginProps];

    /// Inline code (Radix `Code`) showing `content`. (Blocks of highlighted code are
    /// `code_block`.)
    Code = radix("Code"),
        fn code(content: impl Into<Node>) { .child(content) },
        props {
            size: Responsive<Size<9>>,
            variant: CodeVariant,
            weight: Responsive<Weight>,
            color: Color,
            high_contrast: bool,
            truncate: bool,
            wrap: Responsive<TextWrap>,
        },
        with [MarginProps];

    /// A block quote (Radix `Blockquote`) of `content`.
    Blockquote = radix("Blockquote"),
        fn blockquote(content: impl Into<Node>) { .child(content) },
        props {
            size: Responsive<Size<9>>,
            weight: Responsive<Weight>,
            color: Color,
            high_contrast: bool,
            truncate: bool,
            wrap: Responsive<TextWrap>,
        },
        with [MarginProps];

    /// A keyboard key (Radix `Kbd`): `kbd("Ctrl")`.
    Kbd = radix("Kbd"),
        fn kbd(content: impl Into<Node>) { .child(content) },
        props { size: Responsive<Size<9>>, variant: KbdVariant },
        with [MarginProps];

    /// A link (Radix `Link`); made by [`link`] and [`link_to`].
    Link = radix("Link"),
        props {
            size: Responsive<Size<9>>,
            weight: Responsive<Weight>,
            trim: Responsive<Trim>,
            truncate: bool,
            wrap: Responsive<TextWrap>,
            underline: Underline,
            color: Color,
            high_contrast: bool,
        },
        with [MarginProps];

    /// Emphasised text (Radix `Em`, an `em`).
    Em = radix("Em"),
        fn em(content: impl Into<Node>) { .child(content) },
        props { truncate: bool, wrap: Responsive<TextWrap> };

    /// Strong text (Radix `Strong`, a `strong`).
    Strong = radix("Strong"),
        fn strong(content: impl Into<Node>) { .child(content) },
        props { truncate: bool, wrap: Responsive<TextWrap> };

    /// An inline quotation (Radix `Quote`, a `q`).
    Quote = radix("Quote"),
        fn quote(content: impl Into<Node>) { .child(content) },
        props { truncate: bool, wrap: Responsive<TextWrap> };
}

/// A link showing `content`: to a route of the app when `href` starts with `/` (followed by React
/// Router: no page reload, the socket stays open), else to another site.
pub fn link(content: impl Into<Node>, href: &str) -> Link {
    to_route_or_site(Link::new(), content, href)
}

/// A link whose target is a var (a plain `href`, so the browser loads it: use [`link`] for the
/// app's own routes).
pub fn link_to(content: impl Into<Node>, href: impl IntoVar<String>) -> Link {
    Link::new().prop("href", href.into_var()).child(content)
}

/// `el` (a Radix link, which takes `asChild`) showing `content` and going to `href`: through
/// React Router's `Link` for the app's own paths, else as a plain `href`.
pub(super) fn to_route_or_site<E: Element>(el: E, content: impl Into<Node>, href: &str) -> E {
    if href.starts_with('/') && !href.starts_with("//") && !href.starts_with("/\\") {
        el.prop("asChild", true).child(
            Component::new(Source::RouterLink)
                .prop("to", href)
                .child(content),
        )
    } else {
        el.prop("href", href).child(content)
    }
}
