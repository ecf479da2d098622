//! Data display: badges, cards, avatars, progress bars, skeletons, spinners, images, callouts,
//! tables, data lists, tabs, tab navigation and accordions (plus `visually_hidden` and
//! `accessible_icon` for screen readers).

use super::*;
use crate::component::Children;

tokens! {
    /// How a table lays its columns out.
    TableLayout { Auto = "auto", Fixed = "fixed" }
    /// Where a table row's cells put their content vertically.
    RowAlign { Start = "start", Center = "center", End = "end", Baseline = "baseline" }
}

components! {
    /// A badge (Radix `Badge`) showing `content`: `badge("New").color(Color::Grass)`.
    Badge = radix("Badge"),
        fn badge(content: impl Into<Node>) { .child(content) },
        props {
            size: Responsive<Size<3>>,
            variant: BadgeVariant,
            color: Color,
            high_contrast: bool,
            radius: Radius,
        },
        with [MarginProps];

    /// A card (Radix `Card`) around `children`.
    Card = radix("Card"),
        fn card(children: impl Children) { .children(children) },
        props { size: Responsive<Size<5>>, variant: CardVariant },
        with [MarginProps];

    /// An avatar (Radix `Avatar`): the image at `src` (text or a var), or `fallback` (initials)
    /// while it loads or when it fails.
    Avatar = radix("Avatar"),
        fn avatar(src: impl IntoVar<String>, fallback: impl IntoVar<String>) {
            .src(src).fallback(fallback)
        },
        props {
            src: String,
            fallback: String,
            size: Responsive<Size<9>>,
            variant: SolidSoftVariant,
            color: Color,
            high_contrast: bool,
            radius: Radius,
        },
        with [MarginProps];

    /// A progress bar (Radix `Progress`): `progress().value(S::done()).max(S::steps())`; with no
    /// value it shows an indeterminate animation.
    Progress = radix("Progress"),
        fn progress() {},
        props {
            value: Number,
            max: Number,
            /// How long the indeterminate animation takes, as CSS (`"2s"`).
            duration: String,
            size: Responsive<Size<3>>,
            variant: ControlVariant,
            color: Color,
            high_contrast: bool,
            radius: Radius,
        },
        with [MarginProps];

    /// A loading placeholder (Radix `Skeleton`): alone with a width and height, or around the
    /// children it hides while [`loading`](Skeleton::loading) holds (by default).
    Skeleton = radix("Skeleton"),
        fn skeleton() {},
        props { loading: bool },
        with [MarginProps, WidthProps, HeightProps];

    /// A spinner (Radix `Spinner`), shown while [`loading`](Spinner::loading) holds (by
    /// default), else its children.
    Spinner = radix("Spinner"),
        fn spinner() {},
        props { size: Responsive<Size<3>>, loading: bool },
        with [MarginProps];

    /// An image (`<img>`) at `src` with the text alternative `alt` (both text or vars).
    Image = html("img"),
        fn image(src: impl IntoVar<String>, alt: impl IntoVar<String>) { .src(src).alt(alt) },
        props { src: String, alt: String, width: Number, height: Number };

    /// `content` for screen readers only (Radix `VisuallyHidden`).
    VisuallyHidden = radix("VisuallyHidden"),
        fn visually_hidden(content: impl Into<Node>) { .child(content) };

    /// An icon that screen readers announce as `label` (Radix `AccessibleIcon`).
    AccessibleIcon = radix("AccessibleIcon"),
        fn accessible_icon(label: impl IntoVar<String>, icon: impl Into<Node>) {
            .label(label).child(icon)
        },
        props { label: String };
}

/// A highlighted message (Radix `Callout`): `Root` with an optional `Icon` and the `Text`.
pub mod callout {
    use super::*;

    components! {
        /// The callout (Radix `Callout.Root`) of `children` (an [`icon`] and a [`text`]).
        Root = radix("Callout.Root"),
            fn root(children: impl Children) { .children(children) },
            props {
                size: Responsive<Size<3>>,
                variant: CalloutVariant,
                color: Color,
                high_contrast: bool,
            },
            with [MarginProps];

        /// The callout's icon (Radix `Callout.Icon`): `child`, an icon.
        Icon = radix("Callout.Icon"),
            fn icon(child: impl Into<Node>) { .child(child) };

        /// The callout's message (Radix `Callout.Text`).
        Text = radix("Callout.Text"),
            fn text(content: impl Into<Node>) { .child(content) };
    }
}

/// A callout saying `content`: `callout("Saved").color(Color::Grass)`.
pub fn callout(content: impl Into<Node>) -> callout::Root {
    callout::root([callout::text(content)])
}

/// A table (Radix `Table`): `Root`, `Header` and `Body` of `Row`s of cells.
pub mod table {
    use super::*;

    components! {
        /// The table (Radix `Table.Root`) of a [`header`] and a [`body`].
        Root = radix("Table.Root"),
            fn root(children: impl Children) { .children(children) },
            props {
                size: Responsive<Size<3>>,
                variant: TableVariant,
                layout: Responsive<TableLayout>,
            },
            with [MarginProps];

        /// The header rows (Radix `Table.Header`).
        Header = radix("Table.Header"),
            fn header(children: impl Children) { .children(children) };

        /// The body rows (Radix `Table.Body`).
        Body = radix("Table.Body"),
            fn body(children: impl Children) { .children(children) };

        /// A row (Radix `Table.Row`) of cells.
        Row = radix("Table.Row"),
            fn row(children: impl Children) { .children(children) },
            props { align: Responsive<RowAlign> };

        /// A column's header cell (Radix `Table.ColumnHeaderCell`, a `th`).
        ColumnHeaderCell = radix("Table.ColumnHeaderCell"),
            fn column_header_cell(content: impl Into<Node>) { .child(content) },
            props { justify: Responsive<Placement> },
            with [WidthProps, PaddingProps];

        /// A row's header cell (Radix `Table.RowHeaderCell`, a `th`).
        RowHeaderCell = radix("Table.RowHeaderCell"),
            fn row_header_cell(content: impl Into<Node>) { .child(content) },
            props { justify: Responsive<Placement> },
            with [WidthProps, PaddingProps];

        /// A cell (Radix `Table.Cell`, a `td`).
        Cell = radix("Table.Cell"),
            fn cell(content: impl Into<Node>) { .child(content) },
            props { justify: Responsive<Placement> },
            with [WidthProps, PaddingProps];
    }
}

/// Labels and their values (Radix `DataList`): `Root` of `Item`s, each a `Label` and a `Value`.
pub mod data_list {
    use super::*;

    components! {
        /// The list (Radix `DataList.Root`).
        Root = radix("DataList.Root"),
            fn root(children: impl Children) { .children(children) },
            props {
                orientation: Responsive<Orientation>,
                size: Responsive<Size<3>>,
                trim: Responsive<Trim>,
            },
            with [MarginProps];

        /// An entry (Radix `DataList.Item`): a [`label`] and a [`value`].
        Item = radix("DataList.Item"),
            fn item(label: impl Into<Node>, value: impl Into<Node>) {
                .children((self::label(label), self::value(value)))
            },
            props { align: Responsive<Align> };

        /// An entry's label (Radix `DataList.Label`).
        Label = radix("DataList.Label"),
            fn label(content: impl Into<Node>) { .child(content) },
            props { color: Color, high_contrast: bool },
            with [WidthProps];

        /// An entry's value (Radix `DataList.Value`).
        Value = radix("DataList.Value"),
            fn value(content: impl Into<Node>) { .child(content) };
    }
}

/// Tabs (Radix `Tabs`): a `List` of `Trigger`s, and a `Content` per tab, in a `Root` whose value
/// is the open tab's.
pub mod tabs {
    use super::*;

    components! {
        /// The tabs (Radix `Tabs.Root`): the open tab, controlled (`value` and
        /// `on_value_change`) or not (`default_value`).
        Root = radix("Tabs.Root"),
            fn root(children: impl Children) { .children(children) },
            props { value: String, default_value: String, orientation: Orientation },
            events {
                /// The opened tab's value.
                on_value_change: String,
            },
            with [MarginProps];

        /// The row of tab triggers (Radix `Tabs.List`).
        List = radix("Tabs.List"),
            fn list(children: impl Children) { .children(children) },
            props {
                size: Responsive<Size<2>>,
                wrap: Responsive<FlexWrap>,
                justify: Responsive<Placement>,
                color: Color,
                high_contrast: bool,
            };

        /// The trigger (Radix `Tabs.Trigger`) of the tab `value`, labelled `label`.
        Trigger = radix("Tabs.Trigger"),
            fn trigger(value: impl IntoVar<String>, label: impl Into<Node>) {
                .value(value).child(label)
            },
            props { value: String, disabled: bool };

        /// The content (Radix `Tabs.Content`) of the tab `value`: `children`.
        Content = radix("Tabs.Content"),
            fn content(value: impl IntoVar<String>, children: impl Children) {
                .value(value).children(children)
            },
            props { value: String },
            with [MarginProps];
    }
}

/// Navigation that looks like tabs (Radix `TabNav`): a `Root` of `Link`s between pages.
pub mod tab_nav {
    use super::*;

    components! {
        /// The navigation (Radix `TabNav.Root`, a `nav`).
        Root = radix("TabNav.Root"),
            fn root(children: impl Children) { .children(children) },
            props {
                size: Responsive<Size<2>>,
                wrap: Responsive<FlexWrap>,
                justify: Responsive<Placement>,
                color: Color,
                high_contrast: bool,
            },
            with [MarginProps];

        /// A link of the navigation (Radix `TabNav.Link`); made by [`link`](link()).
        Link = radix("TabNav.Link"),
            props {
                /// Whether it is the current page's: `router::path().eq("/data")`.
                active: bool,
            };
    }

    /// A link showing `content` to `href`, as [`link`](crate::link) goes (client-side to the
    /// app's own paths).
    pub fn link(content: impl Into<Node>, href: &str) -> Link {
        crate::components::typography::to_route_or_site(Link::new(), content, href)
    }
}

/// Sections that show and hide their content (`@radix-ui/react-accordion`, Radix's primitive:
/// Radix Themes has no accordion). One section is open at a time and it may be closed;
/// keyboard navigation and ARIA are the primitive's, the look comes from Radix Themes' colours
/// and spacing.
pub mod accordion {
    use super::*;
    use serde_json::json;

    /// The npm package.
    pub const PACKAGE: &str = "@radix-ui/react-accordion";
    /// Its version range (the version Radix Themes itself installs).
    pub const VERSION: &str = "^1.2.0";

    /// The primitive's part `export`, imported as `Accordion<export>`.
    fn part(export: &'static str) -> Component {
        Component::external(
            PACKAGE,
            VERSION,
            Some(export),
            &format!("Accordion{export}"),
        )
    }

    /// An inline style (the primitive comes unstyled; these use Radix Themes' variables, so
    /// they follow the theme and the colour mode).
    fn style(css: serde_json::Value) -> Var<serde_json::Value> {
        json_prop(&css)
    }

    components! {
        /// The accordion (`Accordion.Root`, type `single`, collapsible) of [`item`]s: the open
        /// item's value controlled (`value` and `on_value_change`, `""` when none is open) or
        /// not (`default_value`).
        Root = part("Root"),
            fn root(children: impl Children) {
                .prop("type", "single").collapsible(true).children(children)
            },
            props {
                value: String,
                default_value: String,
                /// Whether the open item closes when its trigger is clicked again.
                collapsible: bool,
                disabled: bool,
                orientation: Orientation,
            },
            events {
                /// The open item's value (`""`: none).
                on_value_change: String,
            };

        /// A section of value `value`: a [`header`] with a [`trigger`] showing `title`, and the
        /// [`content`] `body`.
        Item = part("Item"),
            fn item(value: impl IntoVar<String>, title: impl Into<Node>, body: impl Into<Node>) {
                .value(value)
                .prop("style", style(json!({"borderBottom": "1px solid var(--gray-a5)"})))
                .children((header(trigger(title)), content([body])))
            },
            props { value: String, disabled: bool };

        /// A section's header (`Accordion.Header`, an `h3`) around its trigger.
        Header = part("Header"),
            fn header(child: impl Into<Node>) {
                .prop("style", style(json!({"margin": 0, "display": "flex"})))
                .child(child)
            };

        /// The button that opens and closes a section (`Accordion.Trigger`), showing `title`
        /// and a chevron.
        Trigger = part("Trigger"),
            fn trigger(title: impl Into<Node>) {
                .prop("style", style(json!({
                    "flex": 1,
                    "display": "flex",
                    "alignItems": "center",
                    "justifyContent": "space-between",
                    "gap": "var(--space-3)",
                    "padding": "var(--space-3) var(--space-1)",
                    "background": "none",
                    "border": "none",
                    "color": "var(--gray-12)",
                    "fontFamily": "var(--default-font-family)",
                    "fontSize": "var(--font-size-3)",
                    "fontWeight": "var(--font-weight-medium)",
                    "textAlign": "start",
                    "cursor": "pointer",
                })))
                .child(title)
                .child(radix("ChevronDownIcon").prop("aria-hidden", true))
            };

        /// A section's body (`Accordion.Content`), hidden while the section is closed.
        Content = part("Content"),
            fn content(children: impl Children) {
                .prop("style", style(json!({
                    "padding": "0 var(--space-1) var(--space-3)",
                    "color": "var(--gray-11)",
                    "fontSize": "var(--font-size-2)",
                })))
                .children(children)
            };
    }
}
