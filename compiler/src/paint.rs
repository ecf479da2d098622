//! Colours for icons and charts: Radix Themes' colour scales (which follow the light and dark
//! mode by themselves), the theme's accent, the surrounding text colour, or any CSS colour.

/// A colour for an icon's stroke or a chart's series. A named scale is that scale's step 9 of
/// Radix Themes (`Paint::Indigo` is `var(--indigo-9)`), the solid colour Radix uses for
/// buttons, so it reads well in light and dark mode alike; a `&str` is any CSS colour
/// (`"#8884d8"`, `"var(--indigo-11)"`).
///
/// ```
/// # use refract_compiler::Paint;
/// assert_eq!(Paint::Indigo.css(), "var(--indigo-9)");
/// assert_eq!(Paint::from("#8884d8").css(), "#8884d8");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Paint {
    /// The theme's accent colour (`var(--accent-9)`).
    Accent,
    /// The colour of the text around it (`currentColor`): an icon inside a button takes the
    /// button's text colour.
    CurrentColor,
    /// Radix's `gray` scale.
    Gray,
    /// Radix's `mauve` scale.
    Mauve,
    /// Radix's `slate` scale.
    Slate,
    /// Radix's `sage` scale.
    Sage,
    /// Radix's `olive` scale.
    Olive,
    /// Radix's `sand` scale.
    Sand,
    /// Radix's `tomato` scale.
    Tomato,
    /// Radix's `red` scale.
    Red,
    /// Radix's `ruby` scale.
    Ruby,
    /// Radix's `crimson` scale.
    Crimson,
    /// Radix's `pink` scale.
    Pink,
    /// Radix's `plum` scale.
    Plum,
    /// Radix's `purple` scale.
    Purple,
    /// Radix's `violet` scale.
    Violet,
    /// Radix's `iris` scale.
    Iris,
    /// Radix's `indigo` scale.
    Indigo,
    /// Radix's `blue` scale.
    Blue,
    /// Radix's `cyan` scale.
    Cyan,
    /// Radix's `teal` scale.
    Teal,
    /// Radix's `jade` scale.
    Jade,
    /// Radix's `green` scale.
    Green,
    /// Radix's `grass` scale.
    Grass,
    /// Radix's `bronze` scale.
    Bronze,
    /// Radix's `gold` scale.
    Gold,
    /// Radix's `brown` scale.
    Brown,
    /// Radix's `orange` scale.
    Orange,
    /// Radix's `amber` scale.
    Amber,
    /// Radix's `yellow` scale.
    Yellow,
    /// Radix's `lime` scale.
    Lime,
    /// Radix's `mint` scale.
    Mint,
    /// Radix's `sky` scale.
    Sky,
    /// Any CSS colour, as written.
    Css(String),
}

impl Paint {
    /// The colours charts give their series and slices when none is named, in turn.
    pub const PALETTE: [Paint; 8] = [
        Paint::Indigo,
        Paint::Teal,
        Paint::Orange,
        Paint::Crimson,
        Paint::Amber,
        Paint::Cyan,
        Paint::Purple,
        Paint::Grass,
    ];

    /// The CSS value.
    pub fn css(&self) -> String {
        let scale = match self {
            Paint::Accent => "accent",
            Paint::CurrentColor => return "currentColor".into(),
            Paint::Css(css) => return css.clone(),
            Paint::Gray => "gray",
            Paint::Mauve => "mauve",
            Paint::Slate => "slate",
            Paint::Sage => "sage",
            Paint::Olive => "olive",
            Paint::Sand => "sand",
            Paint::Tomato => "tomato",
            Paint::Red => "red",
            Paint::Ruby => "ruby",
            Paint::Crimson => "crimson",
            Paint::Pink => "pink",
            Paint::Plum => "plum",
            Paint::Purple => "purple",
            Paint::Violet => "violet",
            Paint::Iris => "iris",
            Paint::Indigo => "indigo",
            Paint::Blue => "blue",
            Paint::Cyan => "cyan",
            Paint::Teal => "teal",
            Paint::Jade => "jade",
            Paint::Green => "green",
            Paint::Grass => "grass",
            Paint::Bronze => "bronze",
            Paint::Gold => "gold",
            Paint::Brown => "brown",
            Paint::Orange => "orange",
            Paint::Amber => "amber",
            Paint::Yellow => "yellow",
            Paint::Lime => "lime",
            Paint::Mint => "mint",
            Paint::Sky => "sky",
        };
        format!("var(--{scale}-9)")
    }
}

impl From<&str> for Paint {
    fn from(css: &str) -> Paint {
        Paint::Css(css.to_owned())
    }
}

impl From<String> for Paint {
    fn from(css: String) -> Paint {
        Paint::Css(css)
    }
}
