//! Forms and their controls: buttons, text fields (with slots) and areas, selects, checkboxes
//! and checkbox groups (also the multi-select), radio groups and cards, switches, sliders,
//! segmented controls, the `<form>` itself and the colour-mode toggle.
//!
//! Every control that a `<form>` can send takes `.name("field")`: Radix renders a hidden native
//! input for `Checkbox`, `Switch`, `Select`, `RadioGroup`, `CheckboxGroup` and `Slider` inside a
//! form, and text fields and areas are native inputs. The segmented control is the exception:
//! Radix renders no input for it, so bind its `value` to a var and read the var instead.

use super::*;
use crate::component::Children;

tokens! {
    /// What a button does in a form (`submit` by default inside one).
    ButtonType { Button = "button", Submit = "submit", Reset = "reset" }
    /// The kind of text a text field takes.
    InputType {
        Text = "text", Email = "email", Password = "password", Number = "number",
        Search = "search", Tel = "tel", Url = "url", Date = "date", Time = "time",
        DatetimeLocal = "datetime-local", Month = "month", Week = "week",
    }
    /// Which ways a text area may be resized by the user.
    Resize { None = "none", Vertical = "vertical", Horizontal = "horizontal", Both = "both" }
    /// The side of a text field a slot sits on.
    SlotSide { Left = "left", Right = "right" }
    /// How a select's options open: over the trigger, the chosen one in its place
    /// (`item-aligned`, the default), or below it (`popper`).
    SelectPosition { ItemAligned = "item-aligned", Popper = "popper" }
}

/// `Button` and `IconButton`: the same props (Radix's base button), each with its own extras.
macro_rules! buttons {
    ($($(#[$doc:meta])* $name:ident = $jsx:literal, fn $ctor:ident($arg:ident)
        $(, extra { $($extra:tt)* })?;)*) => {
        components! {$(
            $(#[$doc])*
            $name = radix($jsx),
                fn $ctor($arg: impl Into<Node>) { .child($arg) },
                props {
                    size: Responsive<Size<4>>,
                    variant: ButtonVariant,
                    color: Color,
                    high_contrast: bool,
                    radius: Radius,
                    /// Shows a spinner instead of the label, and disables the button.
                    loading: bool,
                    disabled: bool,
                    /// What it does in a form: `.r#type(ButtonType::Submit)`.
                    r#type: ButtonType,
                    $($($extra)*)?
                },
                with [MarginProps];
        )*}
    };
}
buttons! {
    /// A button (Radix `Button`) labelled `label`: `button("Save").on_click(S::save)`.
    Button = "Button", fn button(label);
    /// A square button (Radix `IconButton`) showing `icon`; give it a `label` for screen
    /// readers.
    IconButton = "IconButton", fn icon_button(icon), extra {
        /// What a screen reader says for it (`aria-label`).
        label("aria-label"): String,
    };
}

components! {
    /// A form (`<form>`) of `children`; see [`Element::on_submit`]. Named `FormElement` in
    /// Rust (`Form<T>` is the submitted form's data).
    FormElement = html("form"),
        fn form(children: impl Children) { .children(children) };

    /// A button that switches the page between light and dark mode (see
    /// `refract_core::color_mode`); the browser remembers the choice.
    ColorModeToggle = runtime("ColorModeToggle"),
        fn color_mode_toggle() {};

    /// A checkbox (Radix `Checkbox`): controlled by a var with [`checked`](Checkbox::checked)
    /// and [`Element::on_checked_change`], or left to the user (`default_checked`) in a form,
    /// which then gets its `value` (`"on"` by default) under its `name` when it is ticked.
    Checkbox = radix("Checkbox"),
        fn checkbox() {},
        props {
            checked: bool,
            default_checked: bool,
            name: String,
            value: String,
            disabled: bool,
            required: bool,
            size: Responsive<Size<3>>,
            variant: ControlVariant,
            color: Color,
            high_contrast: bool,
        },
        with [MarginProps];

    /// A switch (Radix `Switch`): like a [`checkbox`], on or off.
    Switch = radix("Switch"),
        fn switch() {},
        props {
            checked: bool,
            default_checked: bool,
            name: String,
            value: String,
            disabled: bool,
            required: bool,
            size: Responsive<Size<3>>,
            variant: ControlVariant,
            color: Color,
            high_contrast: bool,
            radius: Radius,
        },
        with [MarginProps];

    /// A single radio button (Radix `Radio`, a native `<input type="radio">`) whose value is
    /// `value`; buttons of one `name` form a group. [`radio_group`] is the usual way.
    Radio = radix("Radio"),
        fn radio(value: impl IntoVar<String>) { .value(value) },
        props {
            value: String,
            checked: bool,
            default_checked: bool,
            name: String,
            disabled: bool,
            required: bool,
            size: Responsive<Size<3>>,
            variant: ControlVariant,
            color: Color,
            high_contrast: bool,
        },
        with [MarginProps];

    /// A slider (Radix `Slider`). Its values are a list (one per thumb):
    /// `slider().default_value(vec![50.0]).on_value_change(S::set_volume)` with
    /// `pub fn set_volume(&mut self, values: Vec<f64>)`. In a form it sends each thumb's value
    /// under its `name` (`name[]` with several thumbs).
    Slider = radix("Slider"),
        fn slider() {},
        props {
            value: Vec<f64>,
            default_value: Vec<f64>,
            min: Number,
            max: Number,
            step: Number,
            name: String,
            disabled: bool,
            orientation: Orientation,
            inverted: bool,
            size: Responsive<Size<3>>,
            variant: ControlVariant,
            color: Color,
            high_contrast: bool,
            radius: Radius,
        },
        events {
            /// Each change, while dragging too: the values.
            on_value_change: Vec<f64>,
            /// The values when the user lets go (or after a key press).
            on_value_commit: Vec<f64>,
        },
        with [MarginProps];

    /// A multi-line text input (Radix `TextArea`); [`Element::on_change`] passes its text.
    TextArea = radix("TextArea"),
        fn text_area() {},
        props {
            value: String,
            default_value: String,
            placeholder: String,
            name: String,
            disabled: bool,
            read_only: bool,
            required: bool,
            rows: Number,
            max_length: Number,
            resize: Responsive<Resize>,
            size: Responsive<Size<3>>,
            variant: ControlVariant,
            color: Color,
            radius: Radius,
        },
        with [MarginProps];
}

/// A text field: `TextField.Root` (the input) and `TextField.Slot`s inside it, for icons or
/// buttons beside the text.
pub mod text_field {
    use super::*;

    components! {
        /// A one-line text input (Radix `TextField.Root`); slots go in its children.
        /// [`Element::on_change`] passes its text (debounced), [`Element::on_blur`] too.
        Root = radix("TextField.Root"),
            fn root() {},
            props {
                value: String,
                default_value: String,
                placeholder: String,
                name: String,
                r#type: InputType,
                disabled: bool,
                read_only: bool,
                required: bool,
                max_length: Number,
                size: Responsive<Size<3>>,
                variant: ControlVariant,
                color: Color,
                radius: Radius,
            },
            with [MarginProps];

        /// A slot of a text field (Radix `TextField.Slot`) holding `children`, on the left
        /// unless told otherwise.
        Slot = radix("TextField.Slot"),
            fn slot(children: impl Children) { .children(children) },
            props {
                side: SlotSide,
                color: Color,
                gap: Responsive<Space>,
                px: Responsive<Space>,
                pl: Responsive<Space>,
                pr: Responsive<Space>,
            };
    }
}

/// A one-line text input (`TextField.Root`): `text_field().name("email").placeholder("Email")`.
pub fn text_field() -> text_field::Root {
    text_field::root()
}

/// The same as [`text_field()`] (its name before typed components).
pub fn input() -> text_field::Root {
    text_field::root()
}

/// A select: `Select.Root` with a `Trigger` and `Content` of `Item`s (and `Group`s, `Label`s,
/// `Separator`s). [`select()`](super::select()) builds one from a list.
pub mod select {
    use super::*;

    components! {
        /// The select (Radix `Select.Root`): its value, controlled (`value` and
        /// `on_value_change`) or not (`default_value`), and its `name` in a form.
        Root = radix("Select.Root"),
            fn root(children: impl Children) { .children(children) },
            props {
                value: String,
                default_value: String,
                name: String,
                disabled: bool,
                required: bool,
                open: bool,
                default_open: bool,
                size: Responsive<Size<3>>,
            },
            events {
                /// The chosen item's value.
                on_value_change: String,
                /// Whether the list is now open.
                on_open_change: bool,
            };

        /// The button showing the chosen item (Radix `Select.Trigger`), or the `placeholder`.
        Trigger = radix("Select.Trigger"),
            fn trigger() {},
            props {
                placeholder: String,
                variant: SelectTriggerVariant,
                color: Color,
                radius: Radius,
            },
            with [MarginProps];

        /// The list of items (Radix `Select.Content`).
        Content = radix("Select.Content"),
            fn content(children: impl Children) { .children(children) },
            props {
                position: SelectPosition,
                variant: SolidSoftVariant,
                color: Color,
                high_contrast: bool,
            };

        /// An item (Radix `Select.Item`) of value `value` (not empty) showing `label`.
        Item = radix("Select.Item"),
            fn item(value: impl IntoVar<String>, label: impl Into<Node>) {
                .value(value).child(label)
            },
            props { value: String, disabled: bool };

        /// A group of items (Radix `Select.Group`), with a [`label`].
        Group = radix("Select.Group"),
            fn group(children: impl Children) { .children(children) };

        /// A group's label (Radix `Select.Label`).
        Label = radix("Select.Label"),
            fn label(content: impl Into<Node>) { .child(content) };

        /// A line between items (Radix `Select.Separator`).
        Separator = radix("Select.Separator"),
            fn separator() {};
    }
}

/// A select of `choices` (fixed, or a list var): `select(["apple", "pear"]).value(S::fruit())
/// .on_value_change(S::set_fruit)`. For a placeholder, build it from its parts:
/// `select::root((select::trigger().placeholder("Fruit"), select::content(choices.nodes(select::item))))`.
pub fn select(choices: impl Into<Choices>) -> select::Root {
    select::root((
        select::trigger(),
        select::content(choices.into().nodes(select::item)),
    ))
}

/// Checkboxes that choose several values (Radix `CheckboxGroup`).
pub mod checkbox_group {
    use super::*;

    components! {
        /// The group (Radix `CheckboxGroup.Root`): its values, controlled (`value` and
        /// `on_value_change`) or not (`default_value`), and its `name` in a form (which gets one
        /// entry per ticked box).
        Root = radix("CheckboxGroup.Root"),
            fn root(children: impl Children) { .children(children) },
            props {
                value: Vec<String>,
                default_value: Vec<String>,
                name: String,
                disabled: bool,
                required: bool,
                size: Responsive<Size<3>>,
                variant: ControlVariant,
                color: Color,
                high_contrast: bool,
            },
            events {
                /// The ticked items' values.
                on_value_change: Vec<String>,
            },
            with [MarginProps];

        /// A checkbox of the group (Radix `CheckboxGroup.Item`) of value `value`, labelled
        /// `label`.
        Item = radix("CheckboxGroup.Item"),
            fn item(value: impl IntoVar<String>, label: impl Into<Node>) {
                .value(value).child(label)
            },
            props { value: String, disabled: bool };
    }
}

/// A checkbox group of `choices` (fixed, or a list var).
pub fn checkbox_group(choices: impl Into<Choices>) -> checkbox_group::Root {
    checkbox_group::root(choices.into().nodes(checkbox_group::item))
}

/// A multi-select: Radix has none, so it is a [`checkbox_group()`] of `choices`, a box per
/// option (keyboard accessible, and sent by a form as one entry per ticked box: a `Vec` field of
/// a typed `Form`). Its value is a `Vec<String>`: `.value(S::tags()).on_value_change(S::set_tags)`.
pub fn multi_select(choices: impl Into<Choices>) -> checkbox_group::Root {
    checkbox_group(choices)
}

/// Cards that each tick a value (Radix `CheckboxCards`).
pub mod checkbox_cards {
    use super::*;

    components! {
        /// The cards' grid (Radix `CheckboxCards.Root`) and their values.
        Root = radix("CheckboxCards.Root"),
            fn root(children: impl Children) { .children(children) },
            props {
                value: Vec<String>,
                default_value: Vec<String>,
                name: String,
                disabled: bool,
                required: bool,
                columns: Responsive<Track>,
                gap: Responsive<Space>,
                size: Responsive<Size<3>>,
                variant: CardsVariant,
                color: Color,
                high_contrast: bool,
            },
            events {
                /// The ticked cards' values.
                on_value_change: Vec<String>,
            },
            with [MarginProps];

        /// A card (Radix `CheckboxCards.Item`) of value `value` showing `children`.
        Item = radix("CheckboxCards.Item"),
            fn item(value: impl IntoVar<String>, children: impl Children) {
                .value(value).children(children)
            },
            props { value: String, disabled: bool };
    }
}

/// Radio buttons that choose one value (Radix `RadioGroup`).
pub mod radio_group {
    use super::*;

    components! {
        /// The group (Radix `RadioGroup.Root`): its value, controlled or not, and its `name`.
        Root = radix("RadioGroup.Root"),
            fn root(children: impl Children) { .children(children) },
            props {
                value: String,
                default_value: String,
                name: String,
                disabled: bool,
                required: bool,
                orientation: Orientation,
                size: Responsive<Size<3>>,
                variant: ControlVariant,
                color: Color,
                high_contrast: bool,
            },
            events {
                /// The chosen item's value.
                on_value_change: String,
            },
            with [MarginProps];

        /// A radio button of the group (Radix `RadioGroup.Item`) of value `value`, labelled
        /// `label`.
        Item = radix("RadioGroup.Item"),
            fn item(value: impl IntoVar<String>, label: impl Into<Node>) {
                .value(value).child(label)
            },
            props { value: String, disabled: bool };
    }
}

/// A radio group of `choices` (fixed, or a list var).
pub fn radio_group(choices: impl Into<Choices>) -> radio_group::Root {
    radio_group::root(choices.into().nodes(radio_group::item))
}

/// Cards of which one is chosen (Radix `RadioCards`).
pub mod radio_cards {
    use super::*;

    components! {
        /// The cards' grid (Radix `RadioCards.Root`) and the chosen value.
        Root = radix("RadioCards.Root"),
            fn root(children: impl Children) { .children(children) },
            props {
                value: String,
                default_value: String,
                name: String,
                disabled: bool,
                required: bool,
                columns: Responsive<Track>,
                gap: Responsive<Space>,
                size: Responsive<Size<3>>,
                variant: CardsVariant,
                color: Color,
                high_contrast: bool,
            },
            events {
                /// The chosen card's value.
                on_value_change: String,
            },
            with [MarginProps];

        /// A card (Radix `RadioCards.Item`) of value `value` showing `children`.
        Item = radix("RadioCards.Item"),
            fn item(value: impl IntoVar<String>, children: impl Children) {
                .value(value).children(children)
            },
            props { value: String, disabled: bool };
    }
}

/// A row of options of which one is on (Radix `SegmentedControl`). It renders no form input:
/// keep its value in a var.
pub mod segmented_control {
    use super::*;

    components! {
        /// The control (Radix `SegmentedControl.Root`) and its value.
        Root = radix("SegmentedControl.Root"),
            fn root(children: impl Children) { .children(children) },
            props {
                value: String,
                default_value: String,
                disabled: bool,
                size: Responsive<Size<3>>,
                variant: CardsVariant,
                radius: Radius,
            },
            events {
                /// The chosen item's value.
                on_value_change: String,
            },
            with [MarginProps];

        /// An option (Radix `SegmentedControl.Item`) of value `value`, labelled `label`.
        Item = radix("SegmentedControl.Item"),
            fn item(value: impl IntoVar<String>, label: impl Into<Node>) {
                .value(value).child(label)
            },
            props { value: String };
    }
}

/// A segmented control of `choices` (fixed, or a list var).
pub fn segmented_control(choices: impl Into<Choices>) -> segmented_control::Root {
    segmented_control::root(choices.into().nodes(segmented_control::item))
}
