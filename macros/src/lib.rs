//! Procedural macros of Refract; app authors use them through the `refract` crate.
//!
//! * `#[derive(State)]`: a state's name, its frontend vars, and one `Var` accessor per frontend
//!   field for pages (`CounterState::count()`); `#[backend]` fields stay on the server.
//!   `#[state(parent = ParentState)]` makes it a substate (`refract_core::Substate`); a field
//!   marked `#[cookie(..)]`, `#[local_storage(..)]` or `#[session_storage(..)]` lives in the
//!   browser (`refract_core::storage`).
//! * `#[handlers]` on the state's `impl` block: `pub` methods taking `&mut self` become event
//!   handlers (a parameter of type `&EventContext` receives the event's context, `&Emitter` the
//!   streaming handler's emitter, `&States` the token's other states, `&Parent<P>` a substate's
//!   parent, read-only; the others are the event's
//!   arguments; what they return is a `HandlerResult`: nothing, follow-ups, or either
//!   in a `Result`), `#[computed]` methods computed vars; each gets a page-facing associated function of
//!   the same name (`CounterState::add(5)` builds the event spec, `TodoState::open_count()` is the
//!   computed var), and the method itself is renamed `__handler_<name>` / `__computed_<name>`.
//!   A `#[background(status = field)]` handler is `pub async fn name(task: Task<Self>, args…)`
//!   without `self`: a background task, started by its event and run apart from it, whose
//!   `TaskStatus` var is `field` (it gets the same page-facing builder).
//! * `#[derive(VarFields)]` on a struct held in vars: typed field access on `Var<ThatStruct>`.
//!
//! Generated code names everything through `::refract`, so an app depends on `refract` only.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{format_ident, quote};
use syn::{
    Data, DeriveInput, Fields, FnArg, Ident, ImplItem, ItemImpl, Pat, ReturnType, Type, Visibility,
    parse_macro_input, spanned::Spanned,
};

/// Derives `refract::core::State`; see the crate docs. Mark server-only fields `#[backend]`; a
/// substate names its parent with `#[state(parent = ParentState)]`.
#[proc_macro_derive(
    State,
    attributes(backend, state, cookie, local_storage, session_storage)
)]
pub fn derive_state(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    state_impl(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns a state's `impl` block into its event handlers and computed vars; see the crate docs.
#[proc_macro_attribute]
pub fn handlers(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        let err = syn::Error::new(Span::call_site(), "#[handlers] takes no arguments");
        return err.into_compile_error().into();
    }
    let item = parse_macro_input!(item as ItemImpl);
    handlers_impl(item)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives typed field accessors on `Var<Self>` through a trait named `<Type>VarFields`.
#[proc_macro_derive(VarFields)]
pub fn derive_var_fields(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    var_fields_impl(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// `CounterState` → `counter_state`; `HTTPState` → `http_state`.
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1);
            let boundary = match prev {
                Some(p) => {
                    p.is_lowercase()
                        || p.is_ascii_digit()
                        || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
                }
                None => false,
            };
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn named_fields(input: &DeriveInput, what: &str) -> syn::Result<Vec<syn::Field>> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            format!("a {what} cannot be generic"),
        ));
    }
    match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(f) => Ok(f.named.iter().cloned().collect()),
            _ => Err(syn::Error::new(
                input.ident.span(),
                format!("a {what} needs named fields"),
            )),
        },
        _ => Err(syn::Error::new(
            input.ident.span(),
            format!("a {what} must be a struct"),
        )),
    }
}

fn has_attr(attrs: &[syn::Attribute], name: &str) -> bool {
    attrs.iter().any(|a| a.path().is_ident(name))
}

/// Whether a field carries `#[serde(skip)]` (or `skip_serializing`): it is not stored, so not a var.
fn serde_skipped(field: &syn::Field) -> bool {
    field
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .any(|a| {
            let mut skip = false;
            let _ = a.parse_nested_meta(|m| {
                if m.path.is_ident("skip") || m.path.is_ident("skip_serializing") {
                    skip = true;
                }
                if m.input.peek(syn::Token![=]) {
                    let _: syn::Expr = m.value()?.parse()?;
                }
                Ok(())
            });
            skip
        })
}

fn state_impl(input: &DeriveInput) -> syn::Result<Tokens> {
    let ident = &input.ident;
    let name = snake_case(&ident.to_string());
    let fields = named_fields(input, "state")?;
    let frontend: Vec<&syn::Field> = fields
        .iter()
        .filter(|f| !has_attr(&f.attrs, "backend") && !serde_skipped(f))
        .collect();
    let var_names: Vec<String> = frontend
        .iter()
        .map(|f| f.ident.as_ref().map(Ident::to_string).unwrap_or_default())
        .collect();
    let idents: Vec<&Ident> = frontend.iter().filter_map(|f| f.ident.as_ref()).collect();
    let types: Vec<&Type> = frontend.iter().map(|f| &f.ty).collect();
    let docs = var_names
        .iter()
        .map(|v| format!("The var `{v}` of the state `{name}`, for pages."));
    let parent = parent_attr(&input.attrs)?;
    if let Some(p) = &parent
        && (p.is_ident("Self") || p.is_ident(ident))
    {
        return Err(syn::Error::new(
            p.span(),
            "a state cannot be its own parent",
        ));
    }
    let mut storage = Vec::new();
    for field in &fields {
        if let Some(var) = storage_attr(field)? {
            storage.push(var);
        }
    }
    let storage_entries = storage.iter().map(|v| &v.entry);
    let storage_fields: Vec<&Ident> = storage.iter().map(|v| &v.field).collect();
    let storage_names: Vec<String> = storage_fields.iter().map(|f| f.to_string()).collect();
    let storage_fns = (!storage.is_empty()).then(|| {
        quote! {
            const STORAGE: &'static [::refract::core::StorageVar] = &[#(#storage_entries),*];

            fn set_storage(
                &mut self,
                var: &str,
                value: ::refract::serde_json::Value,
            ) -> ::core::result::Result<bool, ::std::string::String> {
                match var {
                    #(
                        #storage_names => {
                            let decoded = if value.is_null() {
                                ::core::result::Result::Ok(<Self as ::core::default::Default>::default().#storage_fields)
                            } else {
                                ::refract::serde_json::from_value(value)
                            };
                            match decoded {
                                ::core::result::Result::Ok(v) => {
                                    self.#storage_fields = v;
                                    ::core::result::Result::Ok(true)
                                }
                                ::core::result::Result::Err(e) => {
                                    self.#storage_fields = <Self as ::core::default::Default>::default().#storage_fields;
                                    ::core::result::Result::Err(e.to_string())
                                }
                            }
                        }
                    )*
                    _ => ::core::result::Result::Ok(false),
                }
            }
        }
    });
    let parent_const = parent.as_ref().map(|p| {
        quote! {
            const PARENT: ::core::option::Option<&'static str> =
                ::core::option::Option::Some(<#p as ::refract::core::State>::NAME);
        }
    });
    let substate = parent.as_ref().map(|p| {
        quote! {
            impl ::refract::core::Substate for #ident {
                type Parent = #p;
            }
        }
    });
    Ok(quote! {
        #substate

        impl ::refract::core::State for #ident {
            const NAME: &'static str = #name;
            #parent_const
            #storage_fns

            fn frontend_vars(&self) -> ::core::result::Result<
                ::refract::serde_json::Map<::std::string::String, ::refract::serde_json::Value>,
                ::refract::serde_json::Error,
            > {
                #[allow(unused_mut)]
                let mut vars = ::refract::serde_json::Map::new();
                #( vars.insert(::std::string::String::from(#var_names), ::refract::serde_json::to_value(&self.#idents)?); )*
                ::core::result::Result::Ok(vars)
            }
        }

        impl #ident {
            #(
                #[doc = #docs]
                pub fn #idents() -> ::refract::core::Var<#types> {
                    ::refract::core::Var::state_var(#name, #var_names)
                }
            )*
        }
    })
}

/// The statements that decode a handler's arguments (`args`, a JSON object) into locals named
/// as its parameters, or return `bad_arguments`.
fn decode_args(h: &Handler) -> Tokens {
    let pnames: Vec<&Ident> = h.params.iter().map(|p| &p.0).collect();
    let ptys: Vec<&Type> = h.params.iter().map(|p| &p.1).collect();
    quote! {
        #[derive(::refract::serde::Deserialize)]
        #[serde(crate = "::refract::serde", deny_unknown_fields)]
        struct Args { #( #pnames: #ptys ),* }
        let Args { #(#pnames),* } = ::refract::core::decode_args(
            <Self as ::refract::core::State>::NAME, method, args,
        )?;
    }
}

/// Refuses a handler name the framework keeps: one starting with `_` (client actions, and
/// `_storage`, the event that sets a storage var).
fn reserved_name(name: &Ident) -> syn::Result<()> {
    if name.to_string().starts_with('_') {
        return Err(syn::Error::new(
            name.span(),
            "a handler's name may not start with `_`: those are client actions and the framework's own events",
        ));
    }
    Ok(())
}

/// A field's client storage attribute: the field and its `StorageVar` expression.
struct StorageField {
    field: Ident,
    entry: Tokens,
}

/// The storage var of a field marked `#[cookie(..)]`, `#[local_storage(..)]` or
/// `#[session_storage(..)]`, if it is.
fn storage_attr(field: &syn::Field) -> syn::Result<Option<StorageField>> {
    let kinds = [
        ("cookie", quote! { Cookie }),
        ("local_storage", quote! { Local }),
        ("session_storage", quote! { Session }),
    ];
    let mut found = None;
    for attr in &field.attrs {
        let Some((kind, variant)) = kinds.iter().find(|(k, _)| attr.path().is_ident(k)) else {
            continue;
        };
        if found.is_some() {
            return Err(syn::Error::new(
                attr.span(),
                "a var lives in one place in the browser",
            ));
        }
        let ident = field
            .ident
            .clone()
            .ok_or_else(|| syn::Error::new(field.span(), "a named field"))?;
        if has_attr(&field.attrs, "backend") {
            return Err(syn::Error::new(
                attr.span(),
                "a storage var is the browser's: it cannot be #[backend]",
            ));
        }
        let mut name = ident.to_string();
        let mut max_age: Option<u64> = None;
        let mut path = "/".to_owned();
        let mut domain: Option<String> = None;
        let mut secure = false;
        let mut same_site = "lax".to_owned();
        let mut sync = false;
        if matches!(attr.meta, syn::Meta::List(_)) {
            attr.parse_nested_meta(|m| {
                let string = |m: &syn::meta::ParseNestedMeta| -> syn::Result<String> {
                    Ok(m.value()?.parse::<syn::LitStr>()?.value())
                };
                let cookie_only = |what: &str| {
                    if *kind == "cookie" {
                        Ok(())
                    } else {
                        Err(m.error(format!("`{what}` is a cookie's")))
                    }
                };
                if m.path.is_ident("name") {
                    name = string(&m)?;
                } else if m.path.is_ident("max_age") {
                    cookie_only("max_age")?;
                    max_age = Some(m.value()?.parse::<syn::LitInt>()?.base10_parse()?);
                } else if m.path.is_ident("path") {
                    cookie_only("path")?;
                    path = string(&m)?;
                } else if m.path.is_ident("domain") {
                    cookie_only("domain")?;
                    domain = Some(string(&m)?);
                } else if m.path.is_ident("secure") {
                    cookie_only("secure")?;
                    secure = true;
                } else if m.path.is_ident("same_site") {
                    cookie_only("same_site")?;
                    same_site = string(&m)?;
                    if !["lax", "strict", "none"].contains(&same_site.as_str()) {
                        return Err(m.error("same_site is \"lax\", \"strict\" or \"none\""));
                    }
                } else if m.path.is_ident("sync") {
                    if *kind != "local_storage" {
                        return Err(m.error("`sync` is local storage's"));
                    }
                    sync = true;
                } else {
                    return Err(m.error(
                        "unknown option (name, max_age, path, domain, secure, same_site, sync)",
                    ));
                }
                Ok(())
            })?;
        }
        let var = ident.to_string();
        let max_age = match max_age {
            Some(secs) => quote! { ::core::option::Option::Some(#secs) },
            None => quote! { ::core::option::Option::None },
        };
        let domain = match domain {
            Some(d) => quote! { ::core::option::Option::Some(#d) },
            None => quote! { ::core::option::Option::None },
        };
        found = Some(StorageField {
            field: ident,
            entry: quote! {
                ::refract::core::StorageVar {
                    var: #var,
                    kind: ::refract::core::StorageKind::#variant,
                    name: #name,
                    max_age_secs: #max_age,
                    path: #path,
                    domain: #domain,
                    secure: #secure,
                    same_site: #same_site,
                    sync: #sync,
                }
            },
        });
    }
    Ok(found)
}

/// The parent of `#[state(parent = ParentState)]`, if the attribute is there.
fn parent_attr(attrs: &[syn::Attribute]) -> syn::Result<Option<syn::Path>> {
    let mut parent = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("state")) {
        attr.parse_nested_meta(|m| {
            if m.path.is_ident("parent") {
                parent = Some(m.value()?.parse::<syn::Path>()?);
                Ok(())
            } else {
                Err(m.error("#[state] takes `parent = ParentState`"))
            }
        })?;
    }
    Ok(parent)
}

fn var_fields_impl(input: &DeriveInput) -> syn::Result<Tokens> {
    let ident = &input.ident;
    let vis = &input.vis;
    let fields = named_fields(input, "VarFields type")?;
    let fields: Vec<&syn::Field> = fields.iter().filter(|f| !serde_skipped(f)).collect();
    let trait_name = format_ident!("{}VarFields", ident);
    let idents: Vec<&Ident> = fields.iter().filter_map(|f| f.ident.as_ref()).collect();
    let names: Vec<String> = idents.iter().map(|i| i.to_string()).collect();
    let types: Vec<&Type> = fields.iter().map(|f| &f.ty).collect();
    let trait_doc = format!("Typed field access on `Var<{ident}>`, derived by `VarFields`.");
    Ok(quote! {
        #[doc = #trait_doc]
        #vis trait #trait_name {
            #(
                #[doc = concat!("The field `", #names, "`.")]
                fn #idents(&self) -> ::refract::core::Var<#types>;
            )*
        }
        impl #trait_name for ::refract::core::Var<#ident> {
            #( fn #idents(&self) -> ::refract::core::Var<#types> { self.field(#names) } )*
        }
    })
}

struct Handler {
    name: Ident,
    /// `Some(status var)` for a background handler.
    background: Option<Ident>,
    renamed: Ident,
    /// The parameters the page passes (the event's arguments).
    params: Vec<(Ident, Type)>,
    /// Every parameter in declaration order, as the call passes it: an argument's name, or the
    /// event context for the `&EventContext` one.
    call: Vec<Tokens>,
    is_async: bool,
    docs: Vec<syn::Attribute>,
}

/// Whether `ty` names the type `name` (by any path: `refract::EventContext`, `EventContext`).
fn names(ty: &Type, name: &str) -> bool {
    let Type::Path(p) = ty else { return false };
    p.path.segments.last().is_some_and(|s| s.ident == name)
}

/// `Ok(true)` for a `&name` parameter (the running event's `EventContext`, `Emitter` or
/// `States`; any lifetime), `Ok(false)` for an event argument, and an error for one taken any
/// other way: by value or `&mut` it would be read from the event's arguments, which the page
/// chooses (a forged session or address).
fn handle_param(ty: &Type, name: &str) -> syn::Result<bool> {
    match ty {
        Type::Reference(r) if names(&r.elem, name) && r.mutability.is_none() => Ok(true),
        Type::Reference(r) if names(&r.elem, name) => Err(syn::Error::new(
            ty.span(),
            format!("take it as `&{name}`, not `&mut`"),
        )),
        _ if names(ty, name) => Err(syn::Error::new(
            ty.span(),
            format!("take it as `&{name}`: by value it would be an argument the page sends"),
        )),
        _ => Ok(false),
    }
}

/// The status var of `#[background(status = field)]`, if the attribute is there.
fn background_attr(attrs: &[syn::Attribute]) -> syn::Result<Option<Ident>> {
    let Some(attr) = attrs.iter().find(|a| a.path().is_ident("background")) else {
        return Ok(None);
    };
    let mut status = None;
    attr.parse_nested_meta(|m| {
        if m.path.is_ident("status") {
            status = Some(m.value()?.parse::<Ident>()?);
            Ok(())
        } else {
            Err(m.error("#[background] takes `status = field`"))
        }
    })
    .map_err(|_| {
        syn::Error::new(
            attr.span(),
            "write #[background(status = field)], naming the state's `TaskStatus` field",
        )
    })?;
    status.map(Some).ok_or_else(|| {
        syn::Error::new(
            attr.span(),
            "a background task needs a status var: #[background(status = field)], naming a \
             `TaskStatus` field of the state",
        )
    })
}

/// A `#[background(status = field)]` handler: `pub async fn name(task: Task<Self>, args…)`.
fn background_handler(f: &mut syn::ImplItemFn, status: Ident) -> syn::Result<Handler> {
    let shape = "a background handler is `pub async fn name(task: Task<Self>, args…)`";
    let mut inputs = f.sig.inputs.iter();
    let first_is_task = matches!(inputs.next(), Some(FnArg::Typed(pt)) if names(&pt.ty, "Task"));
    if !matches!(f.vis, Visibility::Public(_))
        || f.sig.asyncness.is_none()
        || !first_is_task
        || !f.sig.generics.params.is_empty()
    {
        return Err(syn::Error::new(f.sig.span(), shape));
    }
    let mut params = Vec::new();
    for arg in inputs {
        let FnArg::Typed(pt) = arg else {
            return Err(syn::Error::new(arg.span(), shape));
        };
        let Pat::Ident(pi) = &*pt.pat else {
            return Err(syn::Error::new(
                pt.pat.span(),
                "handler parameters must be plain names",
            ));
        };
        for name in ["EventContext", "Emitter", "States", "Parent"] {
            if names(&pt.ty, name) || matches!(&*pt.ty, Type::Reference(r) if names(&r.elem, name))
            {
                return Err(syn::Error::new(
                    pt.ty.span(),
                    format!("a background task cannot take `&{name}`: it runs after its event"),
                ));
            }
        }
        params.push((pi.ident.clone(), (*pt.ty).clone()));
    }
    let name = f.sig.ident.clone();
    reserved_name(&name)?;
    let renamed = format_ident!("__handler_{}", name);
    let handler = Handler {
        name,
        background: Some(status),
        renamed: renamed.clone(),
        params,
        call: Vec::new(),
        is_async: true,
        docs: doc_attrs(&f.attrs),
    };
    f.sig.ident = renamed;
    f.vis = Visibility::Inherited;
    Ok(handler)
}

struct Computed {
    name: Ident,
    renamed: Ident,
    ty: Type,
    docs: Vec<syn::Attribute>,
}

fn doc_attrs(attrs: &[syn::Attribute]) -> Vec<syn::Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect()
}

fn handlers_impl(mut item: ItemImpl) -> syn::Result<Tokens> {
    if item.trait_.is_some() || !item.generics.params.is_empty() {
        return Err(syn::Error::new(
            item.span(),
            "#[handlers] goes on a state's own, non-generic impl block",
        ));
    }
    let self_ty = item.self_ty.clone();
    let mut handlers = Vec::new();
    let mut computed = Vec::new();
    for impl_item in &mut item.items {
        let ImplItem::Fn(f) = impl_item else { continue };
        let is_computed = has_attr(&f.attrs, "computed");
        let background = background_attr(&f.attrs)?;
        f.attrs.retain(|a| !a.path().is_ident("background"));
        let receiver = match f.sig.inputs.first() {
            Some(FnArg::Receiver(r)) => Some(r.mutability.is_some() && r.reference.is_some()),
            _ => None,
        };
        if let Some(status) = background {
            handlers.push(background_handler(f, status)?);
            continue;
        }
        if is_computed {
            f.attrs.retain(|a| !a.path().is_ident("computed"));
            if receiver != Some(false) || f.sig.inputs.len() != 1 || f.sig.asyncness.is_some() {
                return Err(syn::Error::new(
                    f.sig.span(),
                    "a #[computed] var is `fn name(&self) -> T`",
                ));
            }
            let ReturnType::Type(_, ty) = &f.sig.output else {
                return Err(syn::Error::new(
                    f.sig.span(),
                    "a #[computed] var returns its value",
                ));
            };
            let name = f.sig.ident.clone();
            let renamed = format_ident!("__computed_{}", name);
            computed.push(Computed {
                name,
                renamed: renamed.clone(),
                ty: (**ty).clone(),
                docs: doc_attrs(&f.attrs),
            });
            f.sig.ident = renamed;
            f.vis = Visibility::Inherited;
        } else if matches!(f.vis, Visibility::Public(_)) && receiver == Some(true) {
            if !f.sig.generics.params.is_empty() {
                return Err(syn::Error::new(
                    f.sig.generics.span(),
                    "an event handler cannot be generic",
                ));
            }
            let mut params = Vec::new();
            let mut call = Vec::new();
            let mut handles = std::collections::BTreeSet::new();
            for arg in f.sig.inputs.iter().skip(1) {
                let FnArg::Typed(pt) = arg else { continue };
                let handle = if handle_param(&pt.ty, "EventContext")? {
                    Some(("EventContext", quote! { __refract_cx }))
                } else if handle_param(&pt.ty, "Emitter")? {
                    Some(("Emitter", quote! { &__refract_emit }))
                } else if handle_param(&pt.ty, "States")? {
                    Some(("States", quote! { &__refract_emit.states() }))
                } else if handle_param(&pt.ty, "Parent")? {
                    // The declared parent (a type error when the handler names another state).
                    Some((
                        "Parent",
                        quote! {
                            &__refract_emit.states().parent::<Self>().await.map_err(|e| {
                                ::refract::core::EventError::HandlerFailed(e.to_string())
                            })?
                        },
                    ))
                } else {
                    None
                };
                if let Some((name, passed)) = handle {
                    if !handles.insert(name) {
                        return Err(syn::Error::new(
                            pt.ty.span(),
                            format!("a handler takes `&{name}` once"),
                        ));
                    }
                    call.push(passed);
                    continue;
                }
                let Pat::Ident(pi) = &*pt.pat else {
                    return Err(syn::Error::new(
                        pt.pat.span(),
                        "handler parameters must be plain names",
                    ));
                };
                let ident = pi.ident.clone();
                call.push(quote! { #ident });
                params.push((ident, (*pt.ty).clone()));
            }
            let name = f.sig.ident.clone();
            reserved_name(&name)?;
            let renamed = format_ident!("__handler_{}", name);
            handlers.push(Handler {
                name,
                background: None,
                renamed: renamed.clone(),
                params,
                call,
                is_async: f.sig.asyncness.is_some(),
                docs: doc_attrs(&f.attrs),
            });
            f.sig.ident = renamed;
            f.vis = Visibility::Inherited;
        }
    }

    let builders = handlers.iter().map(|h| {
        let Handler { name, params, docs, .. } = h;
        let method = name.to_string();
        let pnames: Vec<&Ident> = params.iter().map(|p| &p.0).collect();
        let pstrs: Vec<String> = pnames.iter().map(|p| p.to_string()).collect();
        let ptys: Vec<&Type> = params.iter().map(|p| &p.1).collect();
        quote! {
            #(#docs)*
            ///
            /// Page-facing: builds the event spec that calls this handler with the given arguments
            /// (values or vars, evaluated in the browser when the trigger fires).
            pub fn #name(#( #pnames: impl ::refract::core::IntoVar<#ptys> ),*) -> ::refract::core::EventSpec {
                ::refract::core::EventSpec::new(::std::format!("{}.{}", <Self as ::refract::core::State>::NAME, #method))
                    #( .arg(#pstrs, ::refract::core::IntoVar::into_var(#pnames)) )*
            }
        }
    });
    let accessors = computed.iter().map(|c| {
        let Computed { name, ty, docs, .. } = c;
        let var = name.to_string();
        quote! {
            #(#docs)*
            ///
            /// Page-facing: the computed var, recomputed after every event of this state.
            pub fn #name() -> ::refract::core::Var<#ty> {
                ::refract::core::Var::state_var(<Self as ::refract::core::State>::NAME, #var)
            }
        }
    });
    let handler_names: Vec<String> = handlers.iter().map(|h| h.name.to_string()).collect();
    let arms = handlers.iter().filter(|h| h.background.is_none()).map(|h| {
        let method = h.name.to_string();
        let renamed = &h.renamed;
        let passed = &h.call;
        let call = if h.is_async {
            quote! { self.#renamed(#(#passed),*).await }
        } else {
            quote! { self.#renamed(#(#passed),*) }
        };
        let decode = decode_args(h);
        quote! {
            #method => {
                #decode
                ::refract::core::HandlerResult::into_result(#call)
                    .map_err(::refract::core::EventError::HandlerFailed)
            }
        }
    });
    let background: Vec<&Handler> = handlers.iter().filter(|h| h.background.is_some()).collect();
    let bg_methods: Vec<String> = background.iter().map(|h| h.name.to_string()).collect();
    let bg_status: Vec<String> = background
        .iter()
        .filter_map(|h| h.background.as_ref().map(Ident::to_string))
        .collect();
    let start_arms = background.iter().map(|h| {
        let method = h.name.to_string();
        let renamed = &h.renamed;
        let pnames: Vec<&Ident> = h.params.iter().map(|p| &p.0).collect();
        let decode = decode_args(h);
        quote! {
            #method => {
                #decode
                let task = ::refract::core::Task::new(__refract_task);
                ::core::result::Result::Ok(::std::boxed::Box::pin(async move {
                    ::refract::core::TaskResult::into_result(Self::#renamed(task, #(#pnames),*).await)
                }))
            }
        }
    });
    let mut status_vars: Vec<&Ident> = background
        .iter()
        .filter_map(|h| h.background.as_ref())
        .collect();
    status_vars.sort();
    status_vars.dedup();
    let status_names: Vec<String> = status_vars.iter().map(|v| v.to_string()).collect();
    let start_fn = (!background.is_empty()).then(|| quote! {
        fn task_status(&mut self, var: &str) -> ::core::option::Option<&mut ::refract::core::TaskStatus> {
            // Each status var must be a `TaskStatus` field of the state.
            match var {
                #( #status_names => ::core::option::Option::Some(&mut self.#status_vars), )*
                _ => ::core::option::Option::None,
            }
        }

        const BACKGROUND: &'static [(&'static str, &'static str)] = &[#((#bg_methods, #bg_status)),*];

        fn start(
            method: &str,
            args: ::refract::serde_json::Value,
            __refract_task: ::std::sync::Arc<dyn ::refract::core::TaskSink>,
        ) -> ::core::result::Result<::refract::core::TaskFuture, ::refract::core::EventError> {
            match method {
                #(#start_arms)*
                other => ::core::result::Result::Err(::refract::core::EventError::UnknownHandler(
                    ::std::format!("{}.{}", <Self as ::refract::core::State>::NAME, other),
                )),
            }
        }
    });
    let cnames: Vec<String> = computed.iter().map(|c| c.name.to_string()).collect();
    let crenamed: Vec<&Ident> = computed.iter().map(|c| &c.renamed).collect();

    Ok(quote! {
        #item

        impl #self_ty {
            #(#builders)*
            #(#accessors)*
        }

        impl ::refract::core::Handlers for #self_ty {
            const HANDLERS: &'static [&'static str] = &[#(#handler_names),*];

            #start_fn

            fn computed_vars(
                &self,
                vars: &mut ::refract::serde_json::Map<::std::string::String, ::refract::serde_json::Value>,
            ) -> ::core::result::Result<(), ::refract::serde_json::Error> {
                #( vars.insert(::std::string::String::from(#cnames), ::refract::serde_json::to_value(self.#crenamed())?); )*
                let _ = vars;
                ::core::result::Result::Ok(())
            }

            fn dispatch<'a>(
                &'a mut self,
                method: &'a str,
                args: ::refract::serde_json::Value,
                __refract_cx: &'a ::refract::core::EventContext,
                __refract_emit: ::refract::core::Emitter<'a>,
            ) -> ::refract::core::BoxFuture<'a, ::core::result::Result<::std::vec::Vec<::refract::core::EventSpec>, ::refract::core::EventError>> {
                ::std::boxed::Box::pin(async move {
                    match method {
                        #(#arms)*
                        other => {
                            let _ = (args, __refract_cx, __refract_emit);
                            ::core::result::Result::Err(::refract::core::EventError::UnknownHandler(
                                ::std::format!("{}.{}", <Self as ::refract::core::State>::NAME, other),
                            ))
                        }
                    }
                })
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn snake_case_names() {
        assert_eq!(snake_case("CounterState"), "counter_state");
        assert_eq!(snake_case("HTTPState"), "http_state");
        assert_eq!(snake_case("State2Go"), "state2_go");
        assert_eq!(snake_case("todo"), "todo");
    }
}
