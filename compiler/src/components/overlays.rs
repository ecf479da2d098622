//! Overlays: dialogs, alert dialogs, popovers, hover cards, tooltips, dropdown and context menus.
//!
//! Each opens by itself (uncontrolled), or follows a var: `.open(S::editing())` with
//! `.on_open_change(S::set_editing)` (a `bool`), so a handler can close it, after a form inside
//! it was submitted say. Triggers wrap one element that does not read a var (their `asChild`
//! hands it the trigger's props and ref; an element reading a var renders as a component of its
//! own, which does not take them).

use super::*;
use crate::component::Children;

/// The parts `Dialog` and `AlertDialog` share.
macro_rules! dialog_parts {
    ($prefix:literal) => {
        components! {
            /// The dialog (Radix `Root`): open by its trigger, or following a var
            /// (`open` and `on_open_change`).
            Root = radix(concat!($prefix, ".Root")),
                fn root(children: impl Children) { .children(children) },
                props { open: bool, default_open: bool },
                events {
                    /// Whether it is now open.
                    on_open_change: bool,
                };

            /// What opens the dialog (Radix `Trigger`): `child`, a button.
            Trigger = radix(concat!($prefix, ".Trigger")),
                fn trigger(child: impl Into<Node>) { .child(child) };

            /// The dialog's panel (Radix `Content`) with `children`. Give it a [`title`]
            /// (Radix requires one, for screen readers) and a [`description`].
            Content = radix(concat!($prefix, ".Content")),
                fn content(children: impl Children) { .children(children) },
                props { size: Responsive<Size<4>>, align: DialogAlign },
                with [WidthProps, HeightProps];

            /// The dialog's title (Radix `Title`, a heading).
            Title = radix(concat!($prefix, ".Title")),
                fn title(content: impl Into<Node>) { .child(content) };

            /// The dialog's description (Radix `Description`, text).
            Description = radix(concat!($prefix, ".Description")),
                fn description(content: impl Into<Node>) { .child(content) };
        }
    };
}

tokens! {
    /// Where a dialog sits: centred, or near the top.
    DialogAlign { Start = "start", Center = "center" }
}

/// A modal dialog (Radix `Dialog`): `Root`, `Trigger`, `Content` with a `Title`, a
/// `Description` and a `Close`.
pub mod dialog {
    use super::*;

    dialog_parts!("Dialog");

    components! {
        /// What closes the dialog (Radix `Dialog.Close`): `child`, a button.
        Close = radix("Dialog.Close"),
            fn close(child: impl Into<Node>) { .child(child) };
    }
}

/// A dialog that asks for a decision (Radix `AlertDialog`): it does not close on a click
/// outside, only by its `Action` or `Cancel`.
pub mod alert_dialog {
    use super::*;

    dialog_parts!("AlertDialog");

    components! {
        /// The button that confirms (Radix `AlertDialog.Action`): `child`, a button.
        Action = radix("AlertDialog.Action"),
            fn action(child: impl Into<Node>) { .child(child) };

        /// The button that cancels (Radix `AlertDialog.Cancel`): `child`, a button.
        Cancel = radix("AlertDialog.Cancel"),
            fn cancel(child: impl Into<Node>) { .child(child) };
    }
}

/// A panel that opens beside its trigger (Radix `Popover`).
pub mod popover {
    use super::*;

    components! {
        /// The popover (Radix `Popover.Root`).
        Root = radix("Popover.Root"),
            fn root(children: impl Children) { .children(children) },
            props { open: bool, default_open: bool, modal: bool },
            events {
                /// Whether it is now open.
                on_open_change: bool,
            };

        /// What opens it (Radix `Popover.Trigger`): `child`, a button.
        Trigger = radix("Popover.Trigger"),
            fn trigger(child: impl Into<Node>) { .child(child) };

        /// The panel (Radix `Popover.Content`) with `children`.
        Content = radix("Popover.Content"),
            fn content(children: impl Children) { .children(children) },
            props {
                size: Responsive<Size<4>>,
                side: Side,
                align: Placement,
                side_offset: Number,
            },
            with [WidthProps, HeightProps];

        /// What closes it (Radix `Popover.Close`): `child`, a button.
        Close = radix("Popover.Close"),
            fn close(child: impl Into<Node>) { .child(child) };
    }
}

/// A card shown while the pointer rests on its trigger (Radix `HoverCard`), for sighted mouse
/// users: keep what it says reachable otherwise too.
pub mod hover_card {
    use super::*;

    components! {
        /// The hover card (Radix `HoverCard.Root`); delays in milliseconds.
        Root = radix("HoverCard.Root"),
            fn root(children: impl Children) { .children(children) },
            props {
                open: bool,
                default_open: bool,
                open_delay: Number,
                close_delay: Number,
            },
            events {
                /// Whether it is now open.
                on_open_change: bool,
            };

        /// What it opens from (Radix `HoverCard.Trigger`): `child`, a link say.
        Trigger = radix("HoverCard.Trigger"),
            fn trigger(child: impl Into<Node>) { .child(child) };

        /// The card (Radix `HoverCard.Content`) with `children`.
        Content = radix("HoverCard.Content"),
            fn content(children: impl Children) { .children(children) },
            props { size: Responsive<Size<3>>, side: Side, align: Placement },
            with [WidthProps, HeightProps];
    }
}

components! {
    /// A tooltip (Radix `Tooltip`) saying `content` (text or a text var) while the pointer or
    /// the focus is on `child`.
    Tooltip = radix("Tooltip"),
        fn tooltip(content: impl IntoVar<String>, child: impl Into<Node>) {
            .content(content).child(child)
        },
        props {
            content: String,
            open: bool,
            default_open: bool,
            /// How long the pointer rests before it shows, in milliseconds.
            delay_duration: Number,
            side: Side,
            align: Placement,
        },
        events {
            /// Whether it is now shown.
            on_open_change: bool,
        },
        with [WidthProps];
}

/// The parts `DropdownMenu` and `ContextMenu` share.
macro_rules! menu_parts {
    ($prefix:literal) => {
        components! {
            /// The menu's panel (Radix `Content`) with its items.
            Content = radix(concat!($prefix, ".Content")),
                fn content(children: impl Children) { .children(children) },
                props {
                    size: Responsive<Size<2>>,
                    variant: SolidSoftVariant,
                    color: Color,
                    high_contrast: bool,
                };

            /// An item (Radix `Item`) showing `content`; [`Element::on_click`] runs when it is
            /// chosen (by pointer or keyboard).
            Item = radix(concat!($prefix, ".Item")),
                fn item(content: impl Into<Node>) { .child(content) },
                props {
                    /// The keyboard shortcut shown beside it (it does not bind the keys).
                    shortcut: String,
                    color: Color,
                    disabled: bool,
                };

            /// A line between items (Radix `Separator`).
            Separator = radix(concat!($prefix, ".Separator")),
                fn separator() {};

            /// A label over a group of items (Radix `Label`).
            Label = radix(concat!($prefix, ".Label")),
                fn label(content: impl Into<Node>) { .child(content) };

            /// A group of items (Radix `Group`).
            Group = radix(concat!($prefix, ".Group")),
                fn group(children: impl Children) { .children(children) };

            /// A submenu (Radix `Sub`): a [`sub_trigger`] and a [`sub_content`].
            Sub = radix(concat!($prefix, ".Sub")),
                fn sub(children: impl Children) { .children(children) },
                props { open: bool, default_open: bool },
                events {
                    /// Whether it is now open.
                    on_open_change: bool,
                };

            /// The item that opens a submenu (Radix `SubTrigger`), showing `content`.
            SubTrigger = radix(concat!($prefix, ".SubTrigger")),
                fn sub_trigger(content: impl Into<Node>) { .child(content) },
                props { disabled: bool };

            /// A submenu's panel (Radix `SubContent`).
            SubContent = radix(concat!($prefix, ".SubContent")),
                fn sub_content(children: impl Children) { .children(children) };

            /// An item with a tick (Radix `CheckboxItem`) showing `content`; see
            /// [`Element::on_checked_change`].
            CheckboxItem = radix(concat!($prefix, ".CheckboxItem")),
                fn checkbox_item(content: impl Into<Node>) { .child(content) },
                props { checked: bool, shortcut: String, disabled: bool };

            /// Items of which one is chosen (Radix `RadioGroup`).
            RadioGroup = radix(concat!($prefix, ".RadioGroup")),
                fn radio_group(children: impl Children) { .children(children) },
                props { value: String },
                events {
                    /// The chosen item's value.
                    on_value_change: String,
                };

            /// An item of a radio group (Radix `RadioItem`) of value `value`, showing `content`.
            RadioItem = radix(concat!($prefix, ".RadioItem")),
                fn radio_item(value: impl IntoVar<String>, content: impl Into<Node>) {
                    .value(value).child(content)
                },
                props { value: String, disabled: bool };
        }
    };
}

/// A menu opened by a button (Radix `DropdownMenu`).
pub mod dropdown_menu {
    use super::*;

    menu_parts!("DropdownMenu");

    components! {
        /// The menu (Radix `DropdownMenu.Root`).
        Root = radix("DropdownMenu.Root"),
            fn root(children: impl Children) { .children(children) },
            props { open: bool, default_open: bool, modal: bool },
            events {
                /// Whether it is now open.
                on_open_change: bool,
            };

        /// What opens it (Radix `DropdownMenu.Trigger`): `child`, a button.
        Trigger = radix("DropdownMenu.Trigger"),
            fn trigger(child: impl Into<Node>) { .child(child) };

        /// The chevron a trigger button shows (Radix `DropdownMenu.TriggerIcon`).
        TriggerIcon = radix("DropdownMenu.TriggerIcon"),
            fn trigger_icon() {};
    }
}

/// A menu opened by a right click or a long press on an area (Radix `ContextMenu`).
pub mod context_menu {
    use super::*;

    menu_parts!("ContextMenu");

    components! {
        /// The menu (Radix `ContextMenu.Root`); it opens where the user clicks, so it has no
        /// `open` of its own.
        Root = radix("ContextMenu.Root"),
            fn root(children: impl Children) { .children(children) },
            props { modal: bool },
            events {
                /// Whether it is now open.
                on_open_change: bool,
            };

        /// The area it opens from (Radix `ContextMenu.Trigger`): `child`, a box or a card.
        Trigger = radix("ContextMenu.Trigger"),
            fn trigger(child: impl Into<Node>) { .child(child) };
    }
}
