//! Typed forms: a submitted form's fields decoded into any `Deserialize` type the handler takes.
//!
//! The browser sends each named control of the form as a list of texts (`{"age": ["42"],
//! "terms": [], "tags": ["a", "b"]}`: an unticked checkbox and a multi-select with nothing
//! chosen send an empty list). [`Form<T>`] decodes that by the type asked for, as
//! `application/x-www-form-urlencoded` decoders do: a number parses its text, a `bool` is whether
//! a checkbox or switch is ticked, a `Vec` takes every value (a multi-select, a checkbox group), an
//! `Option` is `None` for an empty field, a unit enum variant is chosen by name. A field that does
//! not fit its type is an error naming the field, which the handler call answers with
//! `bad_arguments`.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// A submitted form decoded into `T` (a struct with a field per control name, or a map); what
/// `on_submit` passes to its handler: `pub fn sign_up(&mut self, form: Form<SignUp>)`. Derefs to
/// `T`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Form<T>(pub T);

/// A form's fields as texts by control name (a control with several values is an error: take
/// those in a typed form's `Vec` field).
pub type FormData = Form<HashMap<String, String>>;

impl<T> Deref for Form<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Form<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// The values of one control: a list of texts, or one text (accepted too).
#[derive(Deserialize)]
#[serde(untagged)]
enum Values {
    One(String),
    Many(Vec<String>),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Form<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields: BTreeMap<String, Values> = BTreeMap::deserialize(deserializer)?;
        let fields = fields
            .into_iter()
            .map(|(name, values)| {
                let values = match values {
                    Values::One(v) => vec![v],
                    Values::Many(vs) => vs,
                };
                (name, values)
            })
            .collect();
        T::deserialize(Fields(fields))
            .map(Form)
            .map_err(|e: FormError| de::Error::custom(e))
    }
}

/// Why a form did not fit its type; the text names the field.
#[derive(Debug)]
struct FormError(String);

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormError {}

impl de::Error for FormError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        FormError(msg.to_string())
    }
}

/// The whole form, as a map of fields.
struct Fields(Vec<(String, Vec<String>)>);

impl<'de> Deserializer<'de> for Fields {
    type Error = FormError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_map(FieldsAccess {
            fields: self.0.into_iter(),
            current: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

struct FieldsAccess {
    fields: std::vec::IntoIter<(String, Vec<String>)>,
    current: Option<(String, Vec<String>)>,
}

impl<'de> MapAccess<'de> for FieldsAccess {
    type Error = FormError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FormError> {
        let Some((name, values)) = self.fields.next() else {
            return Ok(None);
        };
        let key = seed.deserialize(StrDeserializer::<FormError>::new(&name))?;
        self.current = Some((name, values));
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, FormError> {
        let (name, values) = self
            .current
            .take()
            .ok_or_else(|| FormError("a form value without its field".into()))?;
        seed.deserialize(Field(values))
            .map_err(|e| FormError(format!("field `{name}`: {e}")))
    }
}

/// One control's values, decoded by the type asked for.
struct Field(Vec<String>);

impl Field {
    /// The one value of the field.
    fn one(self) -> Result<String, FormError> {
        let mut values = self.0.into_iter();
        match (values.next(), values.next()) {
            (Some(v), None) => Ok(v),
            (None, _) => Err(FormError("no value".into())),
            (Some(_), Some(_)) => Err(FormError(
                "several values for one (take them in a Vec)".into(),
            )),
        }
    }

    fn parse<N: std::str::FromStr>(self, what: &str) -> Result<N, FormError> {
        let text = self.one()?;
        let text = text.trim();
        if text.is_empty() {
            return Err(FormError(format!("{what} is required")));
        }
        text.parse()
            .map_err(|_| FormError(format!("expected {what}, got {text:?}")))
    }
}

/// Floats whose finiteness can be checked.
trait Finite: std::str::FromStr {
    fn is_finite(&self) -> bool;
}

impl Finite for f32 {
    fn is_finite(&self) -> bool {
        f32::is_finite(*self)
    }
}

impl Finite for f64 {
    fn is_finite(&self) -> bool {
        f64::is_finite(*self)
    }
}

impl Field {
    /// The one value as a finite float.
    fn finite<N: Finite>(self) -> Result<N, FormError> {
        let text = self.0.first().cloned().unwrap_or_default();
        let n: N = self.parse("a number")?;
        if n.is_finite() {
            Ok(n)
        } else {
            Err(FormError(format!(
                "expected a finite number, got {:?}",
                text.trim()
            )))
        }
    }
}

macro_rules! parse_number {
    ($($method:ident $visit:ident $t:ty, $what:literal;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
            visitor.$visit(self.parse::<$t>($what)?)
        }
    )*};
}

impl<'de> Deserializer<'de> for Field {
    type Error = FormError;

    /// Untyped targets (`serde_json::Value`): no value is `null`, one a string, several a list.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        match self.0.len() {
            0 => visitor.visit_none(),
            1 => self.deserialize_string(visitor),
            _ => self.deserialize_seq(visitor),
        }
    }

    /// Ticked (`on`, the browser's value for a checkbox without one, `true`, `1`, `yes`) or not
    /// (no value: an unticked checkbox, `off`, `false`, `0`, `no`, empty).
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        if self.0.is_empty() {
            return visitor.visit_bool(false);
        }
        let text = self.one()?;
        match text.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "1" | "yes" => visitor.visit_bool(true),
            "off" | "false" | "0" | "no" | "" => visitor.visit_bool(false),
            _ => Err(FormError(format!(
                "expected a checkbox's state, got {text:?}"
            ))),
        }
    }

    parse_number! {
        deserialize_i8 visit_i8 i8, "a whole number";
        deserialize_i16 visit_i16 i16, "a whole number";
        deserialize_i32 visit_i32 i32, "a whole number";
        deserialize_i64 visit_i64 i64, "a whole number";
        deserialize_i128 visit_i128 i128, "a whole number";
        deserialize_u8 visit_u8 u8, "a whole number ≥ 0";
        deserialize_u16 visit_u16 u16, "a whole number ≥ 0";
        deserialize_u32 visit_u32 u32, "a whole number ≥ 0";
        deserialize_u64 visit_u64 u64, "a whole number ≥ 0";
        deserialize_u128 visit_u128 u128, "a whole number ≥ 0";
    }

    /// A finite number: `NaN` and the infinities, which Rust's parser takes, would be stored as
    /// JSON `null` and make the state unreadable.
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_f64(self.finite::<f64>()?)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_f32(self.finite::<f32>()?)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        let text = self.one()?;
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(FormError(format!("expected one character, got {text:?}"))),
        }
    }

    /// The text; an empty string when the control sent none.
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        if self.0.is_empty() {
            return visitor.visit_string(String::new());
        }
        visitor.visit_string(self.one()?)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        self.deserialize_string(visitor)
    }

    /// `None` when the control sent no value or an empty text.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        if self.0.iter().all(|v| v.is_empty()) {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    /// Every value, each decoded as the item type.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        let items = self.0.into_iter().map(|v| Field(vec![v]));
        visitor.visit_seq(de::value::SeqDeserializer::new(items))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, FormError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FormError> {
        visitor.visit_newtype_struct(self)
    }

    /// A unit variant chosen by its name.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FormError> {
        let text = self.one()?;
        visitor.visit_enum(text.into_deserializer())
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_unit()
    }

    fn deserialize_map<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, FormError> {
        Err(FormError(
            "a form field holds texts, not a nested struct or map".into(),
        ))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FormError> {
        self.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bytes byte_buf unit_struct tuple_struct identifier
    }
}

impl<'de> IntoDeserializer<'de, FormError> for Field {
    type Deserializer = Field;
    fn into_deserializer(self) -> Field {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Plan {
        Free,
        Pro,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct SignUp {
        name: String,
        age: u32,
        terms: bool,
        news: bool,
        tags: Vec<String>,
        scores: Vec<f64>,
        nickname: Option<String>,
        height: Option<f64>,
        plan: Plan,
    }

    fn decode<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
        serde_json::from_value::<Form<T>>(value)
            .map(|f| f.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_form_decodes_into_a_struct_by_its_field_types() {
        let form = json!({
            "name": ["Ada"], "age": [" 36 "], "terms": ["on"], "news": [],
            "tags": ["rust", "web"], "scores": ["1.5", "2"], "nickname": [""],
            "height": ["1.7"], "plan": ["pro"], "submit": []
        });
        let got: SignUp = decode(form).unwrap();
        assert_eq!(
            got,
            SignUp {
                name: "Ada".into(),
                age: 36,
                terms: true,
                news: false,
                tags: vec!["rust".into(), "web".into()],
                scores: vec![1.5, 2.0],
                nickname: None,
                height: Some(1.7),
                plan: Plan::Pro,
            }
        );
    }

    #[test]
    fn a_mismatch_names_the_field() {
        let base = || {
            json!({
                "name": ["Ada"], "age": ["36"], "terms": [], "news": [], "tags": [],
                "scores": [], "nickname": [], "height": [], "plan": ["free"]
            })
        };
        let cases = [
            (
                "age",
                json!(["old"]),
                "field `age`: expected a whole number ≥ 0, got \"old\"",
            ),
            (
                "age",
                json!([""]),
                "field `age`: a whole number ≥ 0 is required",
            ),
            (
                "age",
                json!(["-1"]),
                "field `age`: expected a whole number ≥ 0",
            ),
            (
                "terms",
                json!(["maybe"]),
                "field `terms`: expected a checkbox's state",
            ),
            (
                "scores",
                json!(["1", "x"]),
                "field `scores`: expected a number",
            ),
            (
                "plan",
                json!(["gold"]),
                "field `plan`: unknown variant `gold`",
            ),
            ("name", json!(["a", "b"]), "field `name`: several values"),
            (
                "scores",
                json!(["NaN"]),
                "field `scores`: expected a finite number, got \"NaN\"",
            ),
            (
                "height",
                json!(["inf"]),
                "field `height`: expected a finite number",
            ),
            (
                "height",
                json!(["-Infinity"]),
                "field `height`: expected a finite number",
            ),
        ];
        for (field, value, want) in cases {
            let mut form = base();
            form[field] = value;
            let err = decode::<SignUp>(form).unwrap_err();
            assert!(err.contains(want), "{field}: {err}");
        }
        let mut form = base();
        form.as_object_mut().unwrap().remove("age");
        assert!(
            decode::<SignUp>(form)
                .unwrap_err()
                .contains("missing field `age`")
        );
    }

    #[test]
    fn form_data_takes_texts_and_untyped_values_keep_their_shape() {
        let data: HashMap<String, String> =
            decode(json!({"title": ["Milk"], "note": [], "one": "text"})).unwrap();
        assert_eq!(data["title"], "Milk");
        assert_eq!(data["note"], "");
        assert_eq!(data["one"], "text");
        let any: HashMap<String, serde_json::Value> =
            decode(json!({"a": [], "b": ["x"], "c": ["x", "y"]})).unwrap();
        assert_eq!(any["a"], json!(null));
        assert_eq!(any["b"], json!("x"));
        assert_eq!(any["c"], json!(["x", "y"]));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            json!(null),
            json!([]),
            json!({"a": 1}),
            json!({"a": [1]}),
            json!("x"),
        ] {
            assert!(decode::<HashMap<String, String>>(bad).is_err());
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Nested {
            inner: HashMap<String, String>,
        }
        let err = decode::<Nested>(json!({"inner": ["x"]})).unwrap_err();
        assert!(
            err.contains("field `inner`: a form field holds texts"),
            "{err}"
        );
    }
}
