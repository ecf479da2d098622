//! Content: markdown rendered safely, and code blocks with syntax highlighting and a copy button.
//!
//! Both are components of the browser runtime (`code_block.jsx`: `MarkdownView` over
//! `react-markdown` with `remark-gfm`, `CodeBlock` over `prism-react-renderer`). Their npm
//! packages ([`CONTENT_PACKAGES`](crate::CONTENT_PACKAGES)) are installed only in apps whose
//! pages use one of them.

use refract_core::IntoVar;

use crate::component::{Component, Element, Node, Source};

/// Markdown shown as HTML: a [`markdown`] element.
#[derive(Clone, Debug)]
pub struct Markdown(Component);

/// `source` (a `Var<String>` or a literal) rendered as markdown, with GitHub's extensions
/// (tables, strikethrough, task lists, autolinks) and Radix Themes' typography; it re-renders
/// when the var changes.
///
/// Safe for text users wrote: HTML in it is shown as text, never rendered (no `<script>`, no
/// `onerror`), link and image addresses with a scheme other than `http`, `https`, `mailto`, …
/// (`javascript:`) are dropped, and links to other sites open in a new tab with
/// `rel="nofollow noopener noreferrer"`; links to the app's own routes (`/posts/2`) navigate
/// without a reload. Fenced code blocks are highlighted as [`code_block`] does, with a copy
/// button.
///
/// ```
/// # use refract_compiler::markdown;
/// let notes = markdown("**Bold**, *italic* and a [link](https://example.com).");
/// ```
pub fn markdown(source: impl IntoVar<String>) -> Markdown {
    Markdown(Component::new(Source::Runtime("MarkdownView")).prop("source", source.into_var()))
}

impl Markdown {
    /// Whether GitHub's extensions (tables, strikethrough, task lists, autolinks) apply
    /// (default: yes); without them it is plain CommonMark.
    pub fn gfm(self, on: bool) -> Self {
        self.prop("gfm", on)
    }
}

impl Element for Markdown {
    fn element(&mut self) -> &mut Component {
        &mut self.0
    }
}

impl From<Markdown> for Node {
    fn from(m: Markdown) -> Node {
        Node::Element(m.0)
    }
}

/// A language [`code_block`] highlights: those prism-react-renderer 2 bundles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Language {
    /// No highlighting.
    Plain,
    /// C.
    C,
    /// C++.
    Cpp,
    /// CSS.
    Css,
    /// Go.
    Go,
    /// GraphQL.
    GraphQl,
    /// HTML (also XML and SVG).
    Html,
    /// JavaScript.
    JavaScript,
    /// JSON.
    Json,
    /// JavaScript with JSX.
    Jsx,
    /// Kotlin.
    Kotlin,
    /// Markdown.
    Markdown,
    /// Objective-C.
    ObjectiveC,
    /// Python.
    Python,
    /// Rust.
    Rust,
    /// SQL.
    Sql,
    /// Swift.
    Swift,
    /// TypeScript.
    TypeScript,
    /// TypeScript with JSX.
    Tsx,
    /// XML.
    Xml,
    /// YAML.
    Yaml,
}

impl Language {
    /// Prism's name of the language.
    pub fn prism_name(self) -> &'static str {
        match self {
            Language::Plain => "plain",
            Language::C => "c",
            Language::Cpp => "cpp",
            Language::Css => "css",
            Language::Go => "go",
            Language::GraphQl => "graphql",
            Language::Html => "markup",
            Language::JavaScript => "javascript",
            Language::Json => "json",
            Language::Jsx => "jsx",
            Language::Kotlin => "kotlin",
            Language::Markdown => "markdown",
            Language::ObjectiveC => "objectivec",
            Language::Python => "python",
            Language::Rust => "rust",
            Language::Sql => "sql",
            Language::Swift => "swift",
            Language::TypeScript => "typescript",
            Language::Tsx => "tsx",
            Language::Xml => "xml",
            Language::Yaml => "yaml",
        }
    }
}

/// A code block: a [`code_block`] element.
#[derive(Clone, Debug)]
pub struct CodeBlock(Component);

/// `code` (a `Var<String>` or a literal) highlighted as `language`, in colours of Radix Themes'
/// scales (so it follows the light or dark mode), with a Copy button that puts the code in the
/// clipboard and says "Copied". It re-renders when the var changes.
///
/// ```
/// # use refract_compiler::{Language, code_block};
/// let snippet = code_block("fn main() {}", Language::Rust).line_numbers(true);
/// ```
pub fn code_block(code: impl IntoVar<String>, language: Language) -> CodeBlock {
    CodeBlock(
        Component::new(Source::Runtime("CodeBlock"))
            .prop("code", code.into_var())
            .prop("language", language.prism_name()),
    )
}

impl CodeBlock {
    /// Numbers the lines (default: no).
    pub fn line_numbers(self, on: bool) -> Self {
        self.prop("lineNumbers", on)
    }

    /// A caption above the code (a file name, say).
    pub fn title(self, title: impl IntoVar<String>) -> Self {
        self.prop("title", title.into_var())
    }

    /// Whether the Copy button shows (default: yes).
    pub fn copy_button(self, on: bool) -> Self {
        self.prop("copy", on)
    }
}

impl Element for CodeBlock {
    fn element(&mut self) -> &mut Component {
        &mut self.0
    }
}

impl From<CodeBlock> for Node {
    fn from(c: CodeBlock) -> Node {
        Node::Element(c.0)
    }
}
