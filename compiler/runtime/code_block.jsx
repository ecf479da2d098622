// The runtime's content components: a highlighted code block with a copy button (`CodeBlock`,
// Rust's `code_block()`) and markdown (`MarkdownView`, Rust's `markdown()`), re-exported by
// react.jsx. The compiler writes this file into an app only when its pages use one of them (a
// stub otherwise), so that only those apps install prism-react-renderer, react-markdown and
// remark-gfm.
import React, { useEffect, useRef, useState } from "react";
import { Blockquote, Box, Button, Code, Flex, Heading, Link, Separator, Table, Text } from "@radix-ui/themes";
import { Link as RouterLink } from "react-router";
import { Highlight } from "prism-react-renderer";
import Markdown from "react-markdown";
import remarkGfm from "remark-gfm";

/**
 * Prism's token colours from Radix Themes' scales (step 11: text on a light background in light
 * mode, on a dark one in dark mode), so the code follows the colour mode with no script.
 */
const theme = {
  plain: { color: "var(--gray-12)", backgroundColor: "var(--gray-a2)" },
  styles: [
    { types: ["comment", "prolog", "doctype", "cdata"], style: { color: "var(--gray-10)", fontStyle: "italic" } },
    { types: ["punctuation", "operator"], style: { color: "var(--gray-11)" } },
    { types: ["keyword", "atrule", "important", "selector"], style: { color: "var(--purple-11)" } },
    { types: ["string", "char", "attr-value", "inserted", "url"], style: { color: "var(--grass-11)" } },
    { types: ["number", "boolean", "constant", "symbol", "unit"], style: { color: "var(--orange-11)" } },
    { types: ["function", "class-name", "maybe-class-name"], style: { color: "var(--blue-11)" } },
    { types: ["tag", "deleted", "namespace"], style: { color: "var(--red-11)" } },
    { types: ["attr-name", "property", "key"], style: { color: "var(--cyan-11)" } },
    { types: ["builtin", "macro", "lifetime-annotation", "attribute"], style: { color: "var(--indigo-11)" } },
    { types: ["variable", "regex", "parameter"], style: { color: "var(--amber-11)" } },
  ],
};

/**
 * Puts `text` in the clipboard: the Clipboard API where the page may use it (https, localhost),
 * else a hidden text area and the copy command.
 * @param {string} text
 */
async function copyText(text) {
  if (navigator.clipboard?.writeText) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("the browser refused to copy");
}

/**
 * A code block: `code` highlighted as `language` (Prism's name; an unknown one shows plain
 * text), with a Copy button that says "Copied" for two seconds after copying.
 * @param {{code: string, language?: string, title?: string, lineNumbers?: boolean, copy?: boolean}} props
 *   and any other props, passed to the block's box (`id`, `style`, margins)
 */
export function CodeBlock({ code, language = "plain", title, lineNumbers = false, copy = true, ...rest }) {
  const text = String(code ?? "").replace(/\n$/, "");
  const [copied, setCopied] = useState(false);
  const timer = useRef(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const onCopy = () =>
    copyText(text).then(
      () => {
        setCopied(true);
        clearTimeout(timer.current);
        timer.current = setTimeout(() => setCopied(false), 2000);
      },
      (e) => console.warn("refract: could not copy the code", e),
    );
  return (
    <Box className="refract-code-block" position="relative" {...rest}>
      {title != null && title !== "" && (
        <Text as="div" size="1" color="gray" mb="1" style={{ fontFamily: "var(--code-font-family)" }}>
          {title}
        </Text>
      )}
      <Highlight code={text} language={language} theme={theme}>
        {({ className, style, tokens, getLineProps, getTokenProps }) => (
          <pre
            className={className}
            data-language={language}
            style={{
              ...style,
              margin: 0,
              padding: "var(--space-3)",
              paddingRight: copy ? "calc(var(--space-3) + 5rem)" : "var(--space-3)",
              border: "1px solid var(--gray-a5)",
              borderRadius: "var(--radius-3)",
              overflowX: "auto",
              fontFamily: "var(--code-font-family)",
              fontSize: "var(--font-size-2)",
              lineHeight: 1.6,
            }}
          >
            <code>
              {tokens.map((line, i) => (
                <div key={i} {...getLineProps({ line })}>
                  {lineNumbers && (
                    <span
                      aria-hidden="true"
                      style={{ display: "inline-block", minWidth: "2.5em", paddingRight: "1em", textAlign: "right", color: "var(--gray-9)", userSelect: "none" }}
                    >
                      {i + 1}
                    </span>
                  )}
                  {line.map((token, key) => (
                    <span key={key} {...getTokenProps({ token })} />
                  ))}
                </div>
              ))}
            </code>
          </pre>
        )}
      </Highlight>
      {copy && (
        <Flex position="absolute" right="2" style={{ top: title != null && title !== "" ? "calc(var(--space-5) + var(--space-1))" : "var(--space-2)" }}>
          <Button size="1" variant="soft" color="gray" onClick={onCopy} aria-live="polite" data-testid="refract-copy-code">
            {copied ? "Copied" : "Copy"}
          </Button>
        </Flex>
      )}
    </Box>
  );
}

/**
 * The text of a hast node (what react-markdown passes its components as `node`).
 * @param {{type: string, value?: string, children?: object[]}} node
 * @returns {string}
 */
function hastText(node) {
  if (node.type === "text") return node.value;
  return (node.children ?? []).map(hastText).join("");
}

/** A markdown link: to the app's own routes without a reload, to other sites in a new tab. */
function MarkdownLink({ node: _node, href = "", children, ...rest }) {
  // react-markdown emptied addresses with an unsafe scheme (`javascript:`): no link then.
  if (href === "") return <span>{children}</span>;
  // An app path: `/` not followed by another slash or a backslash (`/\evil.example` is read
  // by browsers as `//evil.example`, another site).
  if (/^\/(?![/\\])/.test(href)) {
    return (
      <Link asChild>
        <RouterLink to={href} title={rest.title}>
          {children}
        </RouterLink>
      </Link>
    );
  }
  if (href.startsWith("#")) return <Link href={href} title={rest.title}>{children}</Link>;
  return (
    <Link href={href} title={rest.title} target="_blank" rel="nofollow noopener noreferrer">
      {children}
    </Link>
  );
}

/** A fenced code block of markdown, highlighted by its info string's language. */
function MarkdownPre({ node, children }) {
  const code = node?.children?.find((c) => c.type === "element" && c.tagName === "code");
  if (!code) return <pre>{children}</pre>;
  const classes = [code.properties?.className ?? []].flat().map(String);
  const language = classes.find((c) => c.startsWith("language-"))?.slice("language-".length) ?? "plain";
  return <CodeBlock code={hastText(code)} language={language} my="3" />;
}

/** Strips react-markdown's `node` prop before the props reach a DOM element or Radix. */
const bare =
  (Component, fixed = {}) =>
  ({ node: _node, ...props }) => <Component {...fixed} {...props} />;

/** HTML elements of markdown → Radix Themes' typography. */
const components = {
  h1: bare(Heading, { as: "h1", size: "7", mt: "5", mb: "3" }),
  h2: bare(Heading, { as: "h2", size: "6", mt: "5", mb: "2" }),
  h3: bare(Heading, { as: "h3", size: "5", mt: "4", mb: "2" }),
  h4: bare(Heading, { as: "h4", size: "4", mt: "3", mb: "2" }),
  h5: bare(Heading, { as: "h5", size: "3", mt: "3", mb: "1" }),
  h6: bare(Heading, { as: "h6", size: "2", mt: "3", mb: "1" }),
  p: bare(Text, { as: "p", mb: "3" }),
  a: MarkdownLink,
  code: bare(Code),
  pre: MarkdownPre,
  blockquote: bare(Blockquote, { mb: "3" }),
  hr: bare(Separator, { size: "4", my: "4" }),
  table: ({ node: _node, ...props }) => <Table.Root variant="surface" mb="3" {...props} />,
  thead: bare(Table.Header),
  tbody: bare(Table.Body),
  tr: bare(Table.Row),
  th: bare(Table.ColumnHeaderCell),
  td: bare(Table.Cell),
  img: ({ node: _node, ...props }) => <img {...props} loading="lazy" style={{ maxWidth: "100%" }} />,
};

/**
 * Markdown rendered with react-markdown: HTML in the source shows as text (no rehype-raw), unsafe
 * link addresses are dropped, GitHub's extensions apply unless `gfm` is false.
 * @param {{source: string, gfm?: boolean}} props and any other props, passed to its box
 */
export function MarkdownView({ source, gfm = true, ...rest }) {
  return (
    <Box className="refract-markdown" {...rest}>
      <Markdown remarkPlugins={gfm ? [remarkGfm] : []} components={components}>
        {String(source ?? "")}
      </Markdown>
    </Box>
  );
}
