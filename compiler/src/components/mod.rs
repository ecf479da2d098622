//! Typed components: every Radix Themes component and its parts as a builder whose props are
//! typed, so that a variant the component does not have, a size out of its range or a colour
//! Radix does not know is a compile error:
//!
//! ```
//! # use refract_compiler::*;
//! let save = button("Save").variant(Soft).size(S2).color(Color::Crimson);
//! let page = vstack((heading("Settings").size(S6), save));
//! ```
//!
//! ```compile_fail
//! # use refract_compiler::*;
//! let huge = button("Save").size(S5); // a Button's sizes are 1 to 4
//! ```
//!
//! ```compile_fail
//! # use refract_compiler::*;
//! let outlined = kbd("Ctrl").variant(Outline); // a Kbd is classic or soft
//! ```
//!
//! Each component is one entry of a table (the `components!` macro of this module, invoked once
//! per family: `layout.rs`, `typography.rs`, `forms.rs`, `overlays.rs`, `data.rs`), giving its
//! JSX name, its constructor and its typed props and event props. The entry generates a struct
//! wrapping a [`Component`] (`pub struct Button(Component)`), its builder methods, the
//! constructor, [`Element`] (props, children, triggers and modifiers every element has) and
//! `From<Button> for Node`. Parts of compound components live in a module named after the
//! component, as in Radix's JSX (`Tabs.Trigger` is `tabs::trigger`, of type `tabs::Trigger`).
//!
//! The shared prop types are here: [`Color`], [`Radius`], [`Responsive`] values, the steps of
//! Radix's scales ([`S0`]…[`S9`]) and what they make ([`Size`], [`Space`], [`Margin`]), the
//! looks of variants ([`Classic`], [`Solid`], [`Soft`], [`Surface`], [`Outline`], [`Ghost`]),
//! the props many components share as traits ([`MarginProps`], [`PaddingProps`],
//! [`WidthProps`], [`HeightProps`], [`LayoutProps`]), and [`PropValue`], what a typed prop
//! accepts (a var where the prop may follow one).

use std::ops::Neg;

use refract_core::{Expr, IntoVar, Numeric, Var};
use serde::{Serialize, Serializer};

use crate::component::{Component, Element, Node, Source};

/// The table of typed components. Each entry:
///
/// ```text
/// /// Docs (of the struct and the constructor).
/// Name = make_component(..)
///     , fn constructor(arg: Type, ..) { .method(arg) .. }   // optional
///     , props { prop: Type, renamed("jsName"): Type, .. }    // optional
///     , events { on_value_change: ValueType, .. }            // optional
///     , with [MarginProps, ..]                               // optional: shared prop traits
///     ;
/// ```
///
/// `make_component` builds the bare element (`radix("Button")`); the constructor's body is a
/// chain of builder calls on it. A prop's JSX name is its Rust name in camelCase (`r#` dropped)
/// unless renamed; its method takes any [`PropValue`] of its type. An event prop's method binds
/// handlers given the callback's first argument, typed as said. Structs without a constructor
/// get one written by hand beside the table, from the private `Name::new()`.
macro_rules! components {
    ($(
        $(#[$doc:meta])*
        $name:ident = $make:expr
        $(, fn $ctor:ident($($arg:ident: $argty:ty),* $(,)?) { $($body:tt)* })?
        $(, props { $($(#[$pdoc:meta])* $prop:ident $(($js:literal))?: $pty:ty),* $(,)? })?
        $(, events { $($(#[$edoc:meta])* $event:ident: $ety:ty),* $(,)? })?
        $(, with [$($group:ident),* $(,)?])?
        ;
    )*) => {$(
        components!(@entry [$(#[$doc])*] $name [$make]
            [$(fn $ctor($($arg: $argty),*) { $($body)* })?]
            [$($($(#[$pdoc])* $prop $(($js))?: $pty),*)?]
            [$($($(#[$edoc])* $event: $ety),*)?]
            [$($($group),*)?]);
    )*};
    (@entry $docs:tt $name:ident [$make:expr]
        [$(fn $ctor:ident($($arg:ident: $argty:ty),*) { $($body:tt)* })?]
        [$($(#[$pdoc:meta])* $prop:ident $(($js:literal))?: $pty:ty),*]
        [$($(#[$edoc:meta])* $event:ident: $ety:ty),*]
        [$($group:ident),*]
    ) => {
        components!(@docs $docs
            #[derive(Clone, Debug)]
            pub struct $name($crate::component::Component);
        );

        impl $name {
            /// The bare element: no props, no children.
            #[allow(dead_code)]
            fn new() -> Self {
                $name($make)
            }
            $(
                #[doc = concat!("Sets `", stringify!($prop), "`, a ", stringify!($pty), ".")]
                $(#[$pdoc])*
                pub fn $prop(self, value: impl $crate::components::PropValue<$pty>) -> Self {
                    $crate::components::set(self, components!(@js $prop $($js)?), value)
                }
            )*
            $(
                #[doc = concat!(
                    "Runs handlers when `", stringify!($event), "` fires, passing its value (",
                    stringify!($ety), ")."
                )]
                $(#[$edoc])*
                pub fn $event(self, events: impl refract_core::IntoValueEvents<$ety>) -> Self {
                    let prop = $crate::components::camel(stringify!($event));
                    $crate::component::Element::on(self, &prop, events)
                }
            )*
        }

        $(
            components!(@docs $docs
                pub fn $ctor($($arg: $argty),*) -> $name {
                    $name::new() $($body)*
                }
            );
        )?

        impl $crate::component::Element for $name {
            fn element(&mut self) -> &mut $crate::component::Component {
                &mut self.0
            }
        }

        impl From<$name> for $crate::component::Node {
            fn from(c: $name) -> Self {
                $crate::component::Node::Element(c.0)
            }
        }

        $(impl $group for $name {})*
    };
    (@docs [$($attr:tt)*] $($item:tt)*) => {
        $($attr)* $($item)*
    };
    (@js $prop:ident) => {
        &$crate::components::camel(stringify!($prop))
    };
    (@js $prop:ident $js:literal) => {
        $js
    };
}

/// Declares enums of prop values: each variant with the text Radix Themes takes.
macro_rules! tokens {
    ($(
        $(#[$doc:meta])*
        $name:ident { $($variant:ident = $value:literal),* $(,)? }
    )*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = concat!("`\"", $value, "\"`")]
                $variant,
            )*
        }

        impl $name {
            /// The value as Radix Themes spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $value,)*
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl Token for $name {}
    )*};
}

mod data;
mod forms;
mod layout;
mod overlays;
mod typography;

pub use data::*;
pub use forms::*;
pub use layout::*;
pub use overlays::*;
pub use typography::*;

// ---------------------------------------------------------------------------------------------
// What a typed prop accepts.

/// What a prop of type `T` accepts, and how it becomes the prop's JavaScript expression:
///
/// * a [`Token`] type (an enum such as [`Color`], a [`Size`], a variant set): anything that
///   converts into it (`Color::Crimson`, the step `S3`, the look `Soft`);
/// * [`Responsive<T>`](Responsive) of a token: a value, or one per breakpoint;
/// * `bool`, `String`, `Vec<f64>`, `Vec<String>`: a literal or a var of that type
///   (`.disabled(true)`, `.disabled(S::busy())`, `.placeholder("Name")`);
/// * [`Number`]: a number literal or a var of any numeric type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a value of this prop, of type `{T}`",
    label = "not a `{T}`",
    note = "`Size<N>` takes the steps `S1` to `SN`; a variant set takes the looks it lists; \
            `bool`, `String` and `Number` props take a literal or a var of their type"
)]
pub trait PropValue<T> {
    /// The prop's expression.
    fn prop_expr(self) -> Expr;
}

/// A prop value with a fixed JSON form (an enum's text, a step of a scale): what a [`PropValue`]
/// converts into for token props.
pub trait Token: Serialize {}

impl<T: Token, X: Into<T>> PropValue<T> for X {
    fn prop_expr(self) -> Expr {
        Expr::literal(&self.into())
    }
}

impl<T: Token, X: Into<Responsive<T>>> PropValue<Responsive<T>> for X {
    fn prop_expr(self) -> Expr {
        Expr::literal(&self.into())
    }
}

/// Props that take a var of one type (or a literal of it).
macro_rules! var_props {
    ($($t:ty),*) => {$(
        impl<X: IntoVar<$t>> PropValue<$t> for X {
            fn prop_expr(self) -> Expr {
                self.into_var().into_expr()
            }
        }
    )*};
}
var_props!(bool, String, Vec<f64>, Vec<String>);

/// The type of number props (a progress bar's `value`, a slider's `max`): they take a number
/// literal or a var of any numeric type (`u32`, `i64`, `f64`, …). No value has this type.
#[derive(Clone, Copy, Debug)]
pub enum Number {}

macro_rules! number_literals {
    ($($t:ty),*) => {$(
        impl PropValue<Number> for $t {
            fn prop_expr(self) -> Expr {
                Expr::literal(&self)
            }
        }
    )*};
}
number_literals!(i32, i64, u32, u64, usize, f32, f64);

impl<T: Numeric> PropValue<Number> for Var<T> {
    fn prop_expr(self) -> Expr {
        self.into_expr()
    }
}

impl<T: Numeric> PropValue<Number> for &Var<T> {
    fn prop_expr(self) -> Expr {
        self.expr().clone()
    }
}

/// Sets the prop `name` of `el` to `value`.
fn set<E: Element, T>(mut el: E, name: &str, value: impl PropValue<T>) -> E {
    el.element().set_prop(name, value.prop_expr());
    el
}

/// Sets the prop `name` of `el` to the literal `value`.
fn set_literal<E: Element, T: Serialize>(mut el: E, name: &str, value: T) -> E {
    el.element().set_prop(name, Expr::literal(&value));
    el
}

/// A prop's JSX name from its Rust name: camelCase, without `r#` (`high_contrast` →
/// `highContrast`, `r#type` → `type`).
fn camel(rust: &str) -> String {
    let mut out = String::with_capacity(rust.len());
    let mut upper = false;
    for c in rust.trim_start_matches("r#").chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A Radix Themes component by its JSX name.
fn radix(name: &'static str) -> Component {
    Component::radix(name)
}

/// A plain HTML element.
fn html(tag: &'static str) -> Component {
    Component::html(tag)
}

/// A component of Refract's browser runtime.
fn runtime(name: &'static str) -> Component {
    Component::new(Source::Runtime(name))
}

/// A literal JSON value as a prop, for props of complex shape (a chart's data, a `style`):
/// `.prop("style", json_prop(&json!({"height": "80px"})))`.
pub fn json_prop<T: Serialize>(value: &T) -> Var<T> {
    Var::from_expr(Expr::literal(value))
}

// ---------------------------------------------------------------------------------------------
// Responsive values.

/// A prop value that may differ by the viewport's width: one value (`S3`, `Direction::Row`, any
/// `T` converts into one), or a value per breakpoint of Radix Themes, each applying from that
/// width up: `Responsive::new(Direction::Column).md(Direction::Row)` is a column on phones and
/// a row from 1024 px. Only props Radix documents as responsive take one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Responsive<T> {
    initial: Option<T>,
    xs: Option<T>,
    sm: Option<T>,
    md: Option<T>,
    lg: Option<T>,
    xl: Option<T>,
}

impl<T> Default for Responsive<T> {
    fn default() -> Self {
        Responsive {
            initial: None,
            xs: None,
            sm: None,
            md: None,
            lg: None,
            xl: None,
        }
    }
}

impl<T> Responsive<T> {
    /// `initial` at every width, until a breakpoint says otherwise.
    pub fn new(initial: impl Into<T>) -> Self {
        Responsive {
            initial: Some(initial.into()),
            ..Responsive::default()
        }
    }

    /// The value from 520 px up.
    pub fn xs(mut self, value: impl Into<T>) -> Self {
        self.xs = Some(value.into());
        self
    }

    /// The value from 768 px up.
    pub fn sm(mut self, value: impl Into<T>) -> Self {
        self.sm = Some(value.into());
        self
    }

    /// The value from 1024 px up.
    pub fn md(mut self, value: impl Into<T>) -> Self {
        self.md = Some(value.into());
        self
    }

    /// The value from 1280 px up.
    pub fn lg(mut self, value: impl Into<T>) -> Self {
        self.lg = Some(value.into());
        self
    }

    /// The value from 1640 px up.
    pub fn xl(mut self, value: impl Into<T>) -> Self {
        self.xl = Some(value.into());
        self
    }
}

impl<T> From<T> for Responsive<T> {
    fn from(value: T) -> Self {
        Responsive {
            initial: Some(value),
            ..Responsive::default()
        }
    }
}

/// One value as itself (`"3"`); several as Radix's object (`{"initial": "1", "md": "3"}`).
impl<T: Serialize> Serialize for Responsive<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let at = [
            ("xs", &self.xs),
            ("sm", &self.sm),
            ("md", &self.md),
            ("lg", &self.lg),
            ("xl", &self.xl),
        ];
        if let Some(initial) = &self.initial
            && at.iter().all(|(_, v)| v.is_none())
        {
            return initial.serialize(s);
        }
        let mut map = s.serialize_map(None)?;
        for (breakpoint, value) in [("initial", &self.initial)].into_iter().chain(at) {
            if let Some(value) = value {
                map.serialize_entry(breakpoint, value)?;
            }
        }
        map.end()
    }
}

// ---------------------------------------------------------------------------------------------
// Steps of Radix's scales: sizes and spacing.

/// A step of Radix Themes' scales, `S0` to `S9`: what [`Size`], [`Space`] and [`Margin`] props
/// take. Each component's sizes are checked at compile time: a `Button` has sizes `S1` to `S4`,
/// so `.size(S5)` does not compile (`S5: AtMost<4>` is not satisfied).
pub trait Step {
    /// The step's number.
    const N: u8;
}

/// The steps of a scale that ends at `MAX` (`S1: AtMost<4>`, not `S5`).
pub trait AtMost<const MAX: u8> {}

macro_rules! steps {
    ($($step:ident = $n:literal),*) => {$(
        #[doc = concat!("Step ", $n, " of Radix Themes' scales (a size, a space); see [`Step`].")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $step;

        impl Step for $step {
            const N: u8 = $n;
        }
    )*};
}
steps!(
    S0 = 0,
    S1 = 1,
    S2 = 2,
    S3 = 3,
    S4 = 4,
    S5 = 5,
    S6 = 6,
    S7 = 7,
    S8 = 8,
    S9 = 9
);

macro_rules! at_most {
    ($($max:literal: $($step:ident)*;)*) => {$($(
        impl AtMost<$max> for $step {}
    )*)*};
}
at_most! {
    2: S1 S2;
    3: S1 S2 S3;
    4: S1 S2 S3 S4;
    5: S1 S2 S3 S4 S5;
    9: S1 S2 S3 S4 S5 S6 S7 S8 S9;
}

/// A component's size: a step from `S1` up to `MAX` (`Size<4>` for a `Button`, `Size<9>` for
/// a `Heading`). Built from the steps only, so a size out of range does not compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size<const MAX: u8>(u8);

impl<const MAX: u8, M: Step + AtMost<MAX>> From<M> for Size<MAX> {
    fn from(_: M) -> Self {
        Size(M::N)
    }
}

impl<const MAX: u8, M: Step + AtMost<MAX>> From<M> for Responsive<Size<MAX>> {
    fn from(step: M) -> Self {
        Size::from(step).into()
    }
}

/// A step of Radix's space scale, `S0` to `S9` (0 to 64 px at 100 % scaling): padding and gaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Space(u8);

impl<M: Step> From<M> for Space {
    fn from(_: M) -> Self {
        Space(M::N)
    }
}

impl<M: Step> From<M> for Responsive<Space> {
    fn from(step: M) -> Self {
        Space::from(step).into()
    }
}

/// A margin: a step of the space scale, `S0` to `S9`, or its negative (`-S3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Margin(i8);

impl<M: Step> From<M> for Margin {
    fn from(_: M) -> Self {
        Margin(M::N as i8)
    }
}

impl<M: Step> From<M> for Responsive<Margin> {
    fn from(step: M) -> Self {
        Margin::from(step).into()
    }
}

macro_rules! negative_steps {
    ($($step:ident),*) => {$(
        /// The negative margin of this step.
        impl Neg for $step {
            type Output = Margin;
            fn neg(self) -> Margin {
                Margin(-(<$step as Step>::N as i8))
            }
        }
    )*};
}
negative_steps!(S1, S2, S3, S4, S5, S6, S7, S8, S9);

macro_rules! text_tokens {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0.to_string())
            }
        }
        impl Token for $t {}
    )*};
}
text_tokens!(Space, Margin, Css, Track);

impl<const MAX: u8> Serialize for Size<MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<const MAX: u8> Token for Size<MAX> {}

/// Any CSS value, as written: widths and heights (`"20rem"`, `"100%"`), `flex_grow` (`"1"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Css(String);

impl From<&str> for Css {
    fn from(css: &str) -> Self {
        Css(css.to_owned())
    }
}

impl From<String> for Css {
    fn from(css: String) -> Self {
        Css(css)
    }
}

impl From<&str> for Responsive<Css> {
    fn from(css: &str) -> Self {
        Css::from(css).into()
    }
}

impl From<String> for Responsive<Css> {
    fn from(css: String) -> Self {
        Css::from(css).into()
    }
}

/// A grid's columns or rows: a count (`S1` to `S9` equal tracks) or a CSS track list
/// (`"1fr 2fr"`, `"repeat(auto-fill, minmax(200px, 1fr))"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Track(String);

impl<M: Step + AtMost<9>> From<M> for Track {
    fn from(_: M) -> Self {
        Track(M::N.to_string())
    }
}

impl From<&str> for Track {
    fn from(css: &str) -> Self {
        Track(css.to_owned())
    }
}

impl<M: Step + AtMost<9>> From<M> for Responsive<Track> {
    fn from(step: M) -> Self {
        Track::from(step).into()
    }
}

impl From<&str> for Responsive<Track> {
    fn from(css: &str) -> Self {
        Track::from(css).into()
    }
}

// ---------------------------------------------------------------------------------------------
// Looks: the variants of components.

macro_rules! looks {
    ($($(#[$doc:meta])* $look:ident = $value:literal),*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $look;

        impl $look {
            const NAME: &'static str = $value;
        }
    )*};
}
looks! {
    /// The `classic` variant: raised, with a shadow.
    Classic = "classic",
    /// The `solid` variant: filled with the colour.
    Solid = "solid",
    /// The `soft` variant: a tint of the colour.
    Soft = "soft",
    /// The `surface` variant: a tinted surface with a border.
    Surface = "surface",
    /// The `outline` variant: a border only.
    Outline = "outline",
    /// The `ghost` variant: no background until hovered.
    Ghost = "ghost"
}

/// Declares the variant sets of components: an enum of the looks each has, built from the look
/// markers (`.variant(Soft)`) or named (`ButtonVariant::Soft`).
macro_rules! variants {
    ($($(#[$doc:meta])* $name:ident { $($look:ident),* })*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = concat!("[`", stringify!($look), "`]")]
                $look,
            )*
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(match self {
                    $($name::$look => $look::NAME,)*
                })
            }
        }

        impl Token for $name {}

        $(
            impl From<$look> for $name {
                fn from(_: $look) -> Self {
                    $name::$look
                }
            }
        )*
    )*};
}
variants! {
    /// The variants of `Button` and `IconButton`.
    ButtonVariant { Classic, Solid, Soft, Surface, Outline, Ghost }
    /// The variants of `Badge`.
    BadgeVariant { Solid, Soft, Surface, Outline }
    /// The variants of `Callout`.
    CalloutVariant { Soft, Surface, Outline }
    /// The variants of `Card`.
    CardVariant { Surface, Classic, Ghost }
    /// The variants of `CheckboxCards`, `RadioCards` and `SegmentedControl`.
    CardsVariant { Surface, Classic }
    /// The variants of form controls: `Checkbox`, `Radio`, `RadioGroup`, `CheckboxGroup`,
    /// `Switch`, `Slider`, `TextField`, `TextArea`, and of `Progress`.
    ControlVariant { Classic, Surface, Soft }
    /// The variants of `Code`.
    CodeVariant { Solid, Soft, Outline, Ghost }
    /// The variants of `Kbd`.
    KbdVariant { Classic, Soft }
    /// The variants of `Avatar`, and of menus' and `Select`'s content.
    SolidSoftVariant { Solid, Soft }
    /// The variants of `Select`'s trigger.
    SelectTriggerVariant { Classic, Surface, Soft, Ghost }
    /// The variants of `Table`.
    TableVariant { Surface, Ghost }
}

// ---------------------------------------------------------------------------------------------
// Shared enums.

tokens! {
    /// Radix Themes' accent colours: the `color` prop of components. (Icons and charts take a
    /// `Paint`, which also has the grays and any CSS colour.)
    Color {
        Gray = "gray", Gold = "gold", Bronze = "bronze", Brown = "brown", Yellow = "yellow",
        Amber = "amber", Orange = "orange", Tomato = "tomato", Red = "red", Ruby = "ruby",
        Crimson = "crimson", Pink = "pink", Plum = "plum", Purple = "purple", Violet = "violet",
        Iris = "iris", Indigo = "indigo", Blue = "blue", Cyan = "cyan", Teal = "teal",
        Jade = "jade", Green = "green", Grass = "grass", Lime = "lime", Mint = "mint",
        Sky = "sky",
    }
    /// Corner radius, overriding the theme's.
    Radius { None = "none", Small = "small", Medium = "medium", Large = "large", Full = "full" }
    /// The direction a flex container lays out its children in.
    Direction {
        Row = "row", Column = "column", RowReverse = "row-reverse",
        ColumnReverse = "column-reverse",
    }
    /// How children line up on the cross axis (`align`, `align_self`, `justify_self`).
    Align {
        Start = "start", Center = "center", End = "end", Baseline = "baseline",
        Stretch = "stretch",
    }
    /// How children are spread on the main axis.
    Justify { Start = "start", Center = "center", End = "end", Between = "between" }
    /// Whether a flex container's children wrap onto more lines.
    FlexWrap { Nowrap = "nowrap", Wrap = "wrap", WrapReverse = "wrap-reverse" }
    /// Text alignment.
    TextAlign { Left = "left", Center = "center", Right = "right" }
    /// Font weight.
    Weight { Light = "light", Regular = "regular", Medium = "medium", Bold = "bold" }
    /// How text wraps.
    TextWrap { Wrap = "wrap", Nowrap = "nowrap", Pretty = "pretty", Balance = "balance" }
    /// Which ends of a text block lose their leading space (for tight layouts).
    Trim { Normal = "normal", Start = "start", End = "end", Both = "both" }
    /// Horizontal or vertical.
    Orientation { Horizontal = "horizontal", Vertical = "vertical" }
    /// CSS `position`.
    Position {
        Static = "static", Relative = "relative", Absolute = "absolute", Fixed = "fixed",
        Sticky = "sticky",
    }
    /// CSS `overflow`.
    Overflow {
        Visible = "visible", Hidden = "hidden", Clip = "clip", Scroll = "scroll", Auto = "auto",
    }
    /// Which side of its trigger a popup opens on.
    Side { Top = "top", Right = "right", Bottom = "bottom", Left = "left" }
    /// Start, centre or end: how a popup lines up with its trigger along its side, how a tab
    /// list or a table cell justifies its content.
    Placement { Start = "start", Center = "center", End = "end" }
}

// ---------------------------------------------------------------------------------------------
// Props many components share, as traits.

/// Margins: steps of the space scale, negative ones too (`-S2`), responsive. Most components
/// take them.
pub trait MarginProps: Element {
    /// Margin on every side.
    fn m(self, margin: impl Into<Responsive<Margin>>) -> Self {
        set_literal(self, "m", margin.into())
    }
    /// Margin left and right.
    fn mx(self, margin: impl Into<Responsive<Margin>>) -> Self {
        set_literal(self, "mx", margin.into())
    }
    /// Margin top and bottom.
    fn my(self, margin: impl Into<Responsive<Margin>>) -> Self {
        set_literal(self, "my", margin.into())
    }
    /// Margin on top.
    fn mt(self, margin: impl Into<Responsive<Margin>>) -> Self {
        set_literal(self, "mt", margin.into())
    }
    /// Margin on the right.
    fn mr(self, margin: impl Into<Responsive<Margin>>) -> Self {
        set_literal(self, "mr", margin.into())
    }
    /// Margin at the bottom.
    fn mb(self, margin: impl Into<Responsive<Margin>>) -> Self {
        set_literal(self, "mb", margin.into())
    }
    /// Margin on the left.
    fn ml(self, margin: impl Into<Responsive<Margin>>) -> Self {
        set_literal(self, "ml", margin.into())
    }
}

/// Padding: steps of the space scale, responsive. Layout components and table cells take it.
pub trait PaddingProps: Element {
    /// Padding on every side.
    fn p(self, padding: impl Into<Responsive<Space>>) -> Self {
        set_literal(self, "p", padding.into())
    }
    /// Padding left and right.
    fn px(self, padding: impl Into<Responsive<Space>>) -> Self {
        set_literal(self, "px", padding.into())
    }
    /// Padding top and bottom.
    fn py(self, padding: impl Into<Responsive<Space>>) -> Self {
        set_literal(self, "py", padding.into())
    }
    /// Padding on top.
    fn pt(self, padding: impl Into<Responsive<Space>>) -> Self {
        set_literal(self, "pt", padding.into())
    }
    /// Padding on the right.
    fn pr(self, padding: impl Into<Responsive<Space>>) -> Self {
        set_literal(self, "pr", padding.into())
    }
    /// Padding at the bottom.
    fn pb(self, padding: impl Into<Responsive<Space>>) -> Self {
        set_literal(self, "pb", padding.into())
    }
    /// Padding on the left.
    fn pl(self, padding: impl Into<Responsive<Space>>) -> Self {
        set_literal(self, "pl", padding.into())
    }
}

/// Width: any CSS length (`"20rem"`, `"100%"`), responsive.
pub trait WidthProps: Element {
    /// The width.
    fn width(self, width: impl Into<Responsive<Css>>) -> Self {
        set_literal(self, "width", width.into())
    }
    /// The smallest width.
    fn min_width(self, width: impl Into<Responsive<Css>>) -> Self {
        set_literal(self, "minWidth", width.into())
    }
    /// The largest width.
    fn max_width(self, width: impl Into<Responsive<Css>>) -> Self {
        set_literal(self, "maxWidth", width.into())
    }
}

/// Height: any CSS length, responsive.
pub trait HeightProps: Element {
    /// The height.
    fn height(self, height: impl Into<Responsive<Css>>) -> Self {
        set_literal(self, "height", height.into())
    }
    /// The smallest height.
    fn min_height(self, height: impl Into<Responsive<Css>>) -> Self {
        set_literal(self, "minHeight", height.into())
    }
    /// The largest height.
    fn max_height(self, height: impl Into<Responsive<Css>>) -> Self {
        set_literal(self, "maxHeight", height.into())
    }
}

/// Where a layout component sits and how it behaves in a flex or grid parent (`Box`, `Flex`,
/// `Grid`, `Container`, `Section`).
pub trait LayoutProps: Element {
    /// CSS `position`.
    fn position(self, position: impl Into<Responsive<Position>>) -> Self {
        set_literal(self, "position", position.into())
    }
    /// CSS `inset` (all four offsets): a step of the space scale.
    fn inset(self, offset: impl Into<Responsive<Margin>>) -> Self {
        set_literal(self, "inset", offset.into())
    }
    /// CSS `top`.
    fn top(self, offset: impl Into<Responsive<Margin>>) -> Self {
        set_literal(self, "top", offset.into())
    }
    /// CSS `right`.
    fn right(self, offset: impl Into<Responsive<Margin>>) -> Self {
        set_literal(self, "right", offset.into())
    }
    /// CSS `bottom`.
    fn bottom(self, offset: impl Into<Responsive<Margin>>) -> Self {
        set_literal(self, "bottom", offset.into())
    }
    /// CSS `left`.
    fn left(self, offset: impl Into<Responsive<Margin>>) -> Self {
        set_literal(self, "left", offset.into())
    }
    /// CSS `overflow`.
    fn overflow(self, overflow: impl Into<Responsive<Overflow>>) -> Self {
        set_literal(self, "overflow", overflow.into())
    }
    /// CSS `overflow-x`.
    fn overflow_x(self, overflow: impl Into<Responsive<Overflow>>) -> Self {
        set_literal(self, "overflowX", overflow.into())
    }
    /// CSS `overflow-y`.
    fn overflow_y(self, overflow: impl Into<Responsive<Overflow>>) -> Self {
        set_literal(self, "overflowY", overflow.into())
    }
    /// CSS `flex-basis` in a flex parent.
    fn flex_basis(self, basis: impl Into<Responsive<Css>>) -> Self {
        set_literal(self, "flexBasis", basis.into())
    }
    /// CSS `flex-shrink` in a flex parent (`"0"`, `"1"`).
    fn flex_shrink(self, shrink: impl Into<Responsive<Css>>) -> Self {
        set_literal(self, "flexShrink", shrink.into())
    }
    /// CSS `flex-grow` in a flex parent (`"0"`, `"1"`).
    fn flex_grow(self, grow: impl Into<Responsive<Css>>) -> Self {
        set_literal(self, "flexGrow", grow.into())
    }
    /// CSS `grid-area` in a grid parent.
    fn grid_area(self, area: impl Into<Responsive<Css>>) -> Self {
        set_literal(self, "gridArea", area.into())
    }
    /// CSS `grid-column` in a grid parent (`"1 / 3"`, `"span 2"`).
    fn grid_column(self, column: impl Into<Responsive<Css>>) -> Self {
        set_literal(self, "gridColumn", column.into())
    }
    /// CSS `grid-row` in a grid parent.
    fn grid_row(self, row: impl Into<Responsive<Css>>) -> Self {
        set_literal(self, "gridRow", row.into())
    }
    /// How it lines up on its parent's cross axis.
    fn align_self(self, align: impl Into<Responsive<Align>>) -> Self {
        set_literal(self, "alignSelf", align.into())
    }
    /// How it lines up in its grid cell on the row axis.
    fn justify_self(self, justify: impl Into<Responsive<Align>>) -> Self {
        set_literal(self, "justifySelf", justify.into())
    }
}

// ---------------------------------------------------------------------------------------------
// Choices: the options of selects, radio groups, segmented controls and checkbox groups.

/// One option of a choice control: its value (what a handler and a form get) and its label.
/// `"apple"` is both; `("apple", "Apple")` is a value and a label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// The value.
    pub value: String,
    /// What the option shows.
    pub label: String,
}

impl From<&str> for Choice {
    fn from(value: &str) -> Self {
        Choice {
            value: value.to_owned(),
            label: value.to_owned(),
        }
    }
}

impl From<String> for Choice {
    fn from(value: String) -> Self {
        Choice {
            label: value.clone(),
            value,
        }
    }
}

impl From<(&str, &str)> for Choice {
    fn from((value, label): (&str, &str)) -> Self {
        Choice {
            value: value.to_owned(),
            label: label.to_owned(),
        }
    }
}

impl From<(String, String)> for Choice {
    fn from((value, label): (String, String)) -> Self {
        Choice { value, label }
    }
}

/// The options of a choice control (`select`, `radio_group`, `segmented_control`,
/// `checkbox_group`): fixed ones (an array or `Vec` of [`Choice`]s), or a list var whose texts
/// are each an option's value and label.
#[derive(Clone, Debug)]
pub enum Choices {
    /// Options known when the page is built.
    Fixed(Vec<Choice>),
    /// Options from a list var, rendered with `foreach`.
    Var(Var<Vec<String>>),
}

impl<C: Into<Choice>, const N: usize> From<[C; N]> for Choices {
    fn from(choices: [C; N]) -> Self {
        Choices::Fixed(choices.into_iter().map(Into::into).collect())
    }
}

impl<C: Into<Choice>> From<Vec<C>> for Choices {
    fn from(choices: Vec<C>) -> Self {
        Choices::Fixed(choices.into_iter().map(Into::into).collect())
    }
}

impl From<Var<Vec<String>>> for Choices {
    fn from(list: Var<Vec<String>>) -> Self {
        Choices::Var(list)
    }
}

impl From<&Var<Vec<String>>> for Choices {
    fn from(list: &Var<Vec<String>>) -> Self {
        Choices::Var(list.clone())
    }
}

impl Choices {
    /// The options' nodes, each made by `item` from its value and its label:
    /// `select::content(Choices::from(["a", "b"]).nodes(select::item))`.
    pub fn nodes<N: Into<Node>>(
        self,
        item: impl Fn(Var<String>, Node) -> N + 'static,
    ) -> Vec<Node> {
        match self {
            Choices::Fixed(choices) => choices
                .into_iter()
                .map(|c| item(c.value.into_var(), c.label.into()).into())
                .collect(),
            Choices::Var(list) => {
                vec![
                    crate::control::foreach(list, move |value, _| {
                        item(value.clone(), value.into())
                    })
                    .into(),
                ]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js<T>(value: impl PropValue<T>) -> String {
        value.prop_expr().js
    }

    #[test]
    fn props_take_their_typed_values() {
        assert_eq!(js::<Size<4>>(S3), "\"3\"");
        assert_eq!(js::<Responsive<Size<9>>>(S9), "\"9\"");
        assert_eq!(
            js::<Responsive<Size<4>>>(Responsive::new(S1).md(S3)),
            r#"{"initial":"1","md":"3"}"#
        );
        assert_eq!(js::<Responsive<Margin>>(-S2), "\"-2\"");
        assert_eq!(js::<Responsive<Space>>(S0), "\"0\"");
        assert_eq!(js::<ButtonVariant>(Soft), "\"soft\"");
        assert_eq!(js::<Color>(Color::Crimson), "\"crimson\"");
        assert_eq!(js::<Direction>(Direction::RowReverse), "\"row-reverse\"");
        assert_eq!(js::<Responsive<Css>>("20rem"), "\"20rem\"");
        assert_eq!(js::<Responsive<Track>>("1fr 2fr"), "\"1fr 2fr\"");
        assert_eq!(js::<Responsive<Track>>(S3), "\"3\"");
        assert_eq!(js::<bool>(true), "true");
        assert_eq!(js::<String>("x"), "\"x\"");
        assert_eq!(js::<Number>(42), "42");
        let busy: Var<bool> = Var::state_var("s", "busy");
        assert_eq!(js::<bool>(!busy), "(!s$busy)");
        let done: Var<u32> = Var::state_var("s", "done");
        assert_eq!(js::<Number>(&done), "s$done");
    }

    #[test]
    fn js_names_are_camel_case() {
        assert_eq!(camel("high_contrast"), "highContrast");
        assert_eq!(camel("on_value_change"), "onValueChange");
        assert_eq!(camel("r#type"), "type");
        assert_eq!(camel("size"), "size");
    }
}
