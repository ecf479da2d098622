//! Layout: boxes, flex and grid containers (with the `vstack`, `hstack` and `center` presets and
//! a `spacer`), containers and sections, insets, aspect ratios, scroll areas and separators.

use super::*;
use crate::component::Children;

tokens! {
    /// CSS `display` of a `Box`.
    BoxDisplay {
        None = "none", Inline = "inline", InlineBlock = "inline-block", Block = "block",
        Contents = "contents",
    }
    /// CSS `display` of a `Flex`.
    FlexDisplay { None = "none", InlineFlex = "inline-flex", Flex = "flex" }
    /// How a grid places children that have no place of their own.
    GridFlow {
        Row = "row", Column = "column", Dense = "dense", RowDense = "row-dense",
        ColumnDense = "column-dense",
    }
    /// Which sides of a card an `Inset` bleeds to.
    InsetSide {
        All = "all", X = "x", Y = "y", Top = "top", Bottom = "bottom", Left = "left",
        Right = "right",
    }
    /// Where an `Inset` clips its content.
    InsetClip { BorderBox = "border-box", PaddingBox = "padding-box" }
    /// Which scrollbars a scroll area has.
    Scrollbars { Vertical = "vertical", Horizontal = "horizontal", Both = "both" }
    /// When a scroll area shows its scrollbars.
    ScrollType { Auto = "auto", Always = "always", Scroll = "scroll", Hover = "hover" }
}

components! {
    /// A plain box (Radix `Box`, a `div`) around `children`. The struct is `Block`, so that a
    /// glob import does not shadow Rust's `Box`; the function is `r#box` (`box` is reserved).
    Block = radix("Box"),
        fn r#box(children: impl Children) { .children(children) },
        props { display: Responsive<BoxDisplay> },
        with [MarginProps, PaddingProps, WidthProps, HeightProps, LayoutProps];

    /// A flex container (Radix `Flex`) around `children`; see also [`vstack`], [`hstack`] and
    /// [`center`].
    Flex = radix("Flex"),
        fn flex(children: impl Children) { .children(children) },
        props {
            direction: Responsive<Direction>,
            align: Responsive<Align>,
            justify: Responsive<Justify>,
            wrap: Responsive<FlexWrap>,
            gap: Responsive<Space>,
            gap_x: Responsive<Space>,
            gap_y: Responsive<Space>,
            display: Responsive<FlexDisplay>,
        },
        with [MarginProps, PaddingProps, WidthProps, HeightProps, LayoutProps];

    /// A grid (Radix `Grid`) of `children`: `grid(cards).columns(S3).gap(S4)`.
    Grid = radix("Grid"),
        fn grid(children: impl Children) { .children(children) },
        props {
            columns: Responsive<Track>,
            rows: Responsive<Track>,
            flow: Responsive<GridFlow>,
            areas: Responsive<Css>,
            align: Responsive<Align>,
            justify: Responsive<Justify>,
            gap: Responsive<Space>,
            gap_x: Responsive<Space>,
            gap_y: Responsive<Space>,
        },
        with [MarginProps, PaddingProps, WidthProps, HeightProps, LayoutProps];

    /// A container (Radix `Container`): `children` in a centred column of a fixed maximum width
    /// (size `S1` 448 px to `S4` 1136 px, the default).
    Container = radix("Container"),
        fn container(children: impl Children) { .children(children) },
        props { size: Responsive<Size<4>>, align: Responsive<TextAlign> },
        with [MarginProps, PaddingProps, WidthProps, HeightProps, LayoutProps];

    /// A section of a page (Radix `Section`): `children` with vertical padding by size.
    Section = radix("Section"),
        fn section(children: impl Children) { .children(children) },
        props { size: Responsive<Size<4>> },
        with [MarginProps, PaddingProps, WidthProps, HeightProps, LayoutProps];

    /// Content of a `Card` that bleeds to its edges (Radix `Inset`), such as an image.
    Inset = radix("Inset"),
        fn inset(children: impl Children) { .children(children) },
        props { side: Responsive<InsetSide>, clip: Responsive<InsetClip> },
        with [MarginProps];

    /// `child` at a width-to-height `ratio` (Radix `AspectRatio`): `aspect_ratio(16.0 / 9.0,
    /// image(..))`.
    AspectRatio = radix("AspectRatio"),
        fn aspect_ratio(ratio: f64, child: impl Into<Node>) { .ratio(ratio).child(child) },
        props { ratio: Number };

    /// A scroll area with styled scrollbars (Radix `ScrollArea`) around `children`; give it a
    /// height (a `style`) or a parent that limits it.
    ScrollArea = radix("ScrollArea"),
        fn scroll_area(children: impl Children) { .children(children) },
        props {
            size: Responsive<Size<3>>,
            radius: Radius,
            scrollbars: Scrollbars,
            r#type: ScrollType,
        };

    /// A separating line (Radix `Separator`), horizontal unless told otherwise.
    Separator = radix("Separator"),
        fn separator() {},
        props {
            orientation: Responsive<Orientation>,
            size: Responsive<Size<4>>,
            color: Color,
            decorative: bool,
        },
        with [MarginProps];
}

/// A vertical stack: a [`Flex`] column of `children` with gap `S3`.
pub fn vstack(children: impl Children) -> Flex {
    flex(children).direction(Direction::Column).gap(S3)
}

/// A horizontal stack: a [`Flex`] row of `children` with gap `S3`, centred on the cross axis.
pub fn hstack(children: impl Children) -> Flex {
    flex(children)
        .direction(Direction::Row)
        .gap(S3)
        .align(Align::Center)
}

/// `children` centred both ways: a [`Flex`] with `align` and `justify` centre.
pub fn center(children: impl Children) -> Flex {
    flex(children).align(Align::Center).justify(Justify::Center)
}

/// A box that takes the free space of its flex parent (`flex-grow: 1`), pushing its siblings
/// apart: `hstack((heading("Title"), spacer(), button("Menu")))`.
pub fn spacer() -> Block {
    r#box(()).flex_grow("1")
}
