//! Charts (recharts 3): line, bar, area, pie and scatter charts over rows of data, with tooltips
//! and legends, as wide as their container.
//!
//! The data is a `Var<Vec<T>>` of a state (the chart re-renders when it changes) or a literal
//! `Vec<T>`, where `T` serialises to an object (a struct deriving `Serialize`): each row is a
//! point, each field a column that an axis or a series names by its key.
//!
//! ```
//! # use refract_compiler::{Paint, line_chart};
//! #[derive(serde::Serialize)]
//! struct Day { day: &'static str, visits: u32, signups: u32 }
//! let rows = vec![Day { day: "Mon", visits: 120, signups: 8 }, Day { day: "Tue", visits: 150, signups: 11 }];
//! let chart = line_chart(rows).x("day").line("visits", Paint::Indigo).line("signups", Paint::Teal).height(240);
//! ```
//!
//! Keys are checked when the page is built (at start) for literal data: a key no row has
//! panics, naming the keys the rows do have. Colours are [`Paint`]s (Radix Themes' scales by
//! default, so charts follow the light and dark mode); axes, grid and tooltip use the theme's
//! grays.

use refract_core::{Expr, IntoVar};
use serde_json::{Value, json};

use crate::component::{Component, Element, Node};
use crate::paint::Paint;

/// The npm package charts come from.
pub const RECHARTS_PACKAGE: &str = "recharts";

/// Its version range in `package.json`.
pub const RECHARTS_VERSION: &str = "^3.11.1";

/// The chart height when none is given, in CSS pixels.
pub const DEFAULT_CHART_HEIGHT: u32 = 300;

/// A component of recharts, imported as `Recharts<export>` (so that its `Tooltip` or `Legend`
/// never clash with Radix Themes' names).
fn recharts(export: &str) -> Component {
    Component::external(
        RECHARTS_PACKAGE,
        RECHARTS_VERSION,
        Some(export),
        &format!("Recharts{export}"),
    )
}

/// Sets the prop `name` of `c` to the JSON `value`.
fn json_prop(c: Component, name: &str, value: Value) -> Component {
    expr_prop(c, name, Expr::literal(&value))
}

/// Sets the prop `name` of `c` to the expression `value`.
fn expr_prop(mut c: Component, name: &str, value: Expr) -> Component {
    c.set_prop(name, value);
    c
}

/// One series: a column of the rows drawn as a line, bars, an area or points.
#[derive(Clone, Debug)]
struct Series {
    /// The rows' key.
    key: String,
    /// Its name in the legend and tooltip (`None`: the key).
    name: Option<String>,
    /// Its colour.
    paint: Paint,
}

/// What every chart has.
#[derive(Clone, Debug)]
struct Chart {
    /// The responsive container around the chart: what props and triggers apply to.
    container: Component,
    /// The rows.
    data: Expr,
    height: u32,
    grid: bool,
    legend: bool,
    tooltip: bool,
    animate: bool,
    /// The key of the x axis (the category, or a number for scatter charts).
    x: Option<String>,
    series: Vec<Series>,
}

impl Chart {
    fn new(data: Expr) -> Self {
        Chart {
            container: recharts("ResponsiveContainer"),
            data,
            height: DEFAULT_CHART_HEIGHT,
            grid: true,
            legend: true,
            tooltip: true,
            animate: true,
            x: None,
            series: Vec::new(),
        }
    }

    fn add_series(&mut self, key: &str, paint: Option<Paint>) {
        let paint = paint
            .unwrap_or_else(|| Paint::PALETTE[self.series.len() % Paint::PALETTE.len()].clone());
        self.series.push(Series {
            key: key.to_owned(),
            name: None,
            paint,
        });
    }

    /// # Panics
    /// When there is no series yet.
    fn name_last(&mut self, name: &str) {
        let Some(last) = self.series.last_mut() else {
            panic!("`.named({name:?})` names the series before it: add one first (`.line(..)`)");
        };
        last.name = Some(name.to_owned());
    }

    /// Checks that rows of literal data have `keys` (a var's rows are only known in the browser).
    ///
    /// # Panics
    /// When a key is in no row.
    fn check_keys<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        if self.data.reads_state() {
            return;
        }
        let Ok(Value::Array(rows)) = serde_json::from_str::<Value>(&self.data.js) else {
            return;
        };
        if rows.is_empty() {
            return;
        }
        for key in keys {
            if !rows.iter().any(|r| r.get(key).is_some()) {
                let mut have: Vec<&str> = rows
                    .iter()
                    .filter_map(Value::as_object)
                    .flat_map(|o| o.keys().map(String::as_str))
                    .collect();
                have.sort_unstable();
                have.dedup();
                panic!(
                    "the chart's rows have no field `{key}` (they have: {})",
                    have.join(", ")
                );
            }
        }
    }

    fn series_keys(&self) -> Vec<&str> {
        self.series.iter().map(|s| s.key.as_str()).collect()
    }

    fn grid(&self) -> Option<Node> {
        self.grid.then(|| {
            let grid = recharts("CartesianGrid")
                .prop("strokeDasharray", "3 3")
                .prop("stroke", "var(--gray-a5)");
            grid.into()
        })
    }

    fn axis(&self, which: &str, key: Option<&str>, numeric: bool) -> Node {
        let mut axis = json_prop(
            recharts(which)
                .prop("stroke", "var(--gray-a8)")
                .prop("tickLine", false),
            "tick",
            json!({"fill": "var(--gray-11)", "fontSize": 12}),
        );
        if let Some(key) = key {
            axis = axis.prop("dataKey", key).prop("name", key);
        }
        if numeric {
            axis = axis.prop("type", "number");
        }
        if which == "YAxis" {
            // As wide as its longest tick label.
            axis = axis.prop("width", "auto");
        }
        axis.into()
    }

    fn tooltip(&self, cursor: Value) -> Option<Node> {
        self.tooltip.then(|| {
            let tooltip = json_prop(
                json_prop(
                    json_prop(
                        recharts("Tooltip"),
                        "contentStyle",
                        json!({
                            "backgroundColor": "var(--color-panel-solid)",
                            "border": "1px solid var(--gray-a6)",
                            "borderRadius": "var(--radius-3)",
                            "color": "var(--gray-12)",
                        }),
                    ),
                    "labelStyle",
                    json!({"color": "var(--gray-12)"}),
                ),
                "cursor",
                cursor,
            );
            tooltip.into()
        })
    }

    fn legend(&self) -> Option<Node> {
        // In the series' order (recharts sorts by name by default).
        self.legend.then(|| {
            expr_prop(
                recharts("Legend"),
                "itemSorter",
                Expr::literal(&Value::Null),
            )
            .into()
        })
    }

    /// What a chart over categories (line, bar, area) starts with, once its keys are checked:
    /// the grid, the x axis of the categories, a value axis, the tooltip with its `cursor`
    /// (how the hovered category is marked) and the legend.
    fn category_frame(&self, cursor: Value) -> Vec<Option<Node>> {
        self.check_keys(self.x.as_deref().into_iter().chain(self.series_keys()));
        vec![
            self.grid(),
            Some(self.axis("XAxis", self.x.as_deref(), false)),
            Some(self.axis("YAxis", None, false)),
            self.tooltip(cursor),
            self.legend(),
        ]
    }

    /// A cartesian chart's root `export` over the rows, with room on the right for the x axis'
    /// last label.
    fn cartesian_root(&self, export: &str) -> Component {
        let root = expr_prop(recharts(export), "data", self.data.clone());
        json_prop(
            root,
            "margin",
            json!({"top": 8, "right": 24, "bottom": 0, "left": 0}),
        )
    }

    /// The container holding `chart`, which holds `children` (the `None`s left out).
    fn finish(self, chart: Component, children: Vec<Option<Node>>) -> Node {
        let chart = chart.children(children.into_iter().flatten().collect::<Vec<_>>());
        let mut container = self.container;
        container.set_prop("width", Expr::literal("100%"));
        container.set_prop("height", Expr::literal(&self.height));
        Node::Element(container.child(chart))
    }
}

macro_rules! chart_common {
    ($($ty:ident)*) => {$(
        impl $ty {
            /// The chart's height in CSS pixels (default [`DEFAULT_CHART_HEIGHT`]); it is as
            /// wide as its container.
            pub fn height(mut self, px: u32) -> Self {
                self.0.height = px;
                self
            }

            /// Whether the legend shows (default: yes).
            pub fn legend(mut self, on: bool) -> Self {
                self.0.legend = on;
                self
            }

            /// Whether hovering shows a tooltip with the values (default: yes).
            pub fn tooltip(mut self, on: bool) -> Self {
                self.0.tooltip = on;
                self
            }

            /// Whether the chart animates when it appears and when its data changes (default:
            /// yes).
            pub fn animate(mut self, on: bool) -> Self {
                self.0.animate = on;
                self
            }
        }

        /// Props and triggers apply to the chart's container (a `<div>`): an `id`, a `style`,
        /// `on_click`.
        impl Element for $ty {
            fn element(&mut self) -> &mut Component {
                &mut self.0.container
            }
        }

        impl From<$ty> for Node {
            fn from(chart: $ty) -> Node {
                chart.build()
            }
        }
    )*};
}

macro_rules! cartesian_common {
    ($($ty:ident)*) => {$(
        impl $ty {
            /// The key of the x axis: the rows' category (`"day"`), shown along the bottom.
            pub fn x(mut self, key: &str) -> Self {
                self.0.x = Some(key.to_owned());
                self
            }

            /// Whether the background grid shows (default: yes).
            pub fn grid(mut self, on: bool) -> Self {
                self.0.grid = on;
                self
            }

            /// Names the series added last in the legend and tooltip (default: its key).
            ///
            /// # Panics
            /// When no series was added before it.
            pub fn named(mut self, name: &str) -> Self {
                self.0.name_last(name);
                self
            }
        }
    )*};
}

chart_common!(LineChart BarChart AreaChart PieChart ScatterChart);
cartesian_common!(LineChart BarChart AreaChart);

/// A line chart: a line per series over the x axis' categories. See [`line_chart`].
#[derive(Clone, Debug)]
pub struct LineChart(Chart, LineOptions);

#[derive(Clone, Debug)]
struct LineOptions {
    smooth: bool,
    dots: bool,
}

/// A line chart of `data` (a `Var<Vec<T>>` or a `Vec<T>`):
/// `line_chart(S::visits()).x("day").line("visits", Paint::Indigo)`.
pub fn line_chart<T>(data: impl IntoVar<Vec<T>>) -> LineChart {
    LineChart(
        Chart::new(data.into_var().into_expr()),
        LineOptions {
            smooth: true,
            dots: true,
        },
    )
}

impl LineChart {
    /// Adds a line through the rows' `key` values, in `paint`.
    pub fn line(mut self, key: &str, paint: impl Into<Paint>) -> Self {
        self.0.add_series(key, Some(paint.into()));
        self
    }

    /// Whether the lines are smooth curves (default) or straight segments.
    pub fn smooth(mut self, on: bool) -> Self {
        self.1.smooth = on;
        self
    }

    /// Whether each point shows a dot (default: yes).
    pub fn dots(mut self, on: bool) -> Self {
        self.1.dots = on;
        self
    }

    fn build(self) -> Node {
        let (chart, options) = (self.0, self.1);
        let mut children = chart.category_frame(json!({"stroke": "var(--gray-a7)"}));
        for s in &chart.series {
            let paint = s.paint.css();
            let dot = if options.dots {
                json!({"r": 3, "fill": paint, "strokeWidth": 0})
            } else {
                json!(false)
            };
            let line = recharts("Line")
                .prop("type", if options.smooth { "monotone" } else { "linear" })
                .prop("dataKey", s.key.as_str())
                .prop("name", s.name.as_deref().unwrap_or(&s.key))
                .prop("stroke", paint.as_str())
                .prop("strokeWidth", 2)
                .prop("isAnimationActive", chart.animate);
            let line = json_prop(line, "dot", dot);
            children.push(Some(json_prop(line, "activeDot", json!({"r": 5})).into()));
        }
        let root = chart.cartesian_root("LineChart");
        chart.finish(root, children)
    }
}

/// A bar chart: a bar per series for each of the x axis' categories, side by side or stacked.
/// See [`bar_chart`].
#[derive(Clone, Debug)]
pub struct BarChart(Chart, bool);

/// A bar chart of `data` (a `Var<Vec<T>>` or a `Vec<T>`):
/// `bar_chart(rows).x("quarter").bar("online", Paint::Indigo).bar("store", Paint::Teal).stacked()`.
pub fn bar_chart<T>(data: impl IntoVar<Vec<T>>) -> BarChart {
    BarChart(Chart::new(data.into_var().into_expr()), false)
}

impl BarChart {
    /// Adds bars of the rows' `key` values, in `paint`.
    pub fn bar(mut self, key: &str, paint: impl Into<Paint>) -> Self {
        self.0.add_series(key, Some(paint.into()));
        self
    }

    /// Stacks the series' bars on one another (default: side by side).
    pub fn stacked(mut self) -> Self {
        self.1 = true;
        self
    }

    fn build(self) -> Node {
        let (chart, stacked) = (self.0, self.1);
        let mut children = chart.category_frame(json!({"fill": "var(--gray-a3)"}));
        for s in &chart.series {
            let mut bar = recharts("Bar")
                .prop("dataKey", s.key.as_str())
                .prop("name", s.name.as_deref().unwrap_or(&s.key))
                .prop("fill", s.paint.css())
                .prop("isAnimationActive", chart.animate);
            bar = if stacked {
                bar.prop("stackId", "stack")
            } else {
                json_prop(bar, "radius", json!([4, 4, 0, 0]))
            };
            children.push(Some(bar.into()));
        }
        let root = chart.cartesian_root("BarChart");
        chart.finish(root, children)
    }
}

/// An area chart: a filled line per series, overlapping or stacked. See [`area_chart`].
#[derive(Clone, Debug)]
pub struct AreaChart(Chart, bool);

/// An area chart of `data` (a `Var<Vec<T>>` or a `Vec<T>`):
/// `area_chart(rows).x("day").area("visits", Paint::Indigo)`.
pub fn area_chart<T>(data: impl IntoVar<Vec<T>>) -> AreaChart {
    AreaChart(Chart::new(data.into_var().into_expr()), false)
}

impl AreaChart {
    /// Adds an area under the rows' `key` values, in `paint`.
    pub fn area(mut self, key: &str, paint: impl Into<Paint>) -> Self {
        self.0.add_series(key, Some(paint.into()));
        self
    }

    /// Stacks the areas on one another (default: overlapping).
    pub fn stacked(mut self) -> Self {
        self.1 = true;
        self
    }

    fn build(self) -> Node {
        let (chart, stacked) = (self.0, self.1);
        let mut children = chart.category_frame(json!({"stroke": "var(--gray-a7)"}));
        for s in &chart.series {
            let paint = s.paint.css();
            let mut area = recharts("Area")
                .prop("type", "monotone")
                .prop("dataKey", s.key.as_str())
                .prop("name", s.name.as_deref().unwrap_or(&s.key))
                .prop("stroke", paint.as_str())
                .prop("fill", paint.as_str())
                .prop("fillOpacity", 0.25)
                .prop("strokeWidth", 2)
                .prop("isAnimationActive", chart.animate);
            if stacked {
                area = area.prop("stackId", "stack");
            }
            children.push(Some(area.into()));
        }
        let root = chart.cartesian_root("AreaChart");
        chart.finish(root, children)
    }
}

/// A pie (or donut) chart: a slice per row. See [`pie_chart`].
#[derive(Clone, Debug)]
pub struct PieChart(Chart, PieOptions);

#[derive(Clone, Debug)]
struct PieOptions {
    name_key: String,
    value_key: String,
    colors: Vec<Paint>,
    donut: bool,
    labels: bool,
}

/// A pie chart of `data` (a `Var<Vec<T>>` or a `Vec<T>`), a slice per row: by default each
/// row's `name` labels its slice and its `value` sizes it;
/// `pie_chart(rows).name_key("browser").value_key("share")`.
pub fn pie_chart<T>(data: impl IntoVar<Vec<T>>) -> PieChart {
    let mut chart = Chart::new(data.into_var().into_expr());
    chart.grid = false;
    PieChart(
        chart,
        PieOptions {
            name_key: "name".into(),
            value_key: "value".into(),
            colors: Paint::PALETTE.to_vec(),
            donut: false,
            labels: false,
        },
    )
}

impl PieChart {
    /// The rows' key that names each slice (default `"name"`).
    pub fn name_key(mut self, key: &str) -> Self {
        self.1.name_key = key.to_owned();
        self
    }

    /// The rows' key whose number sizes each slice (default `"value"`).
    pub fn value_key(mut self, key: &str) -> Self {
        self.1.value_key = key.to_owned();
        self
    }

    /// The slices' colours, in turn (default [`Paint::PALETTE`]); a row's own `fill` field wins.
    ///
    /// # Panics
    /// When `colors` is empty.
    pub fn colors(mut self, colors: impl IntoIterator<Item = Paint>) -> Self {
        self.1.colors = colors.into_iter().collect();
        assert!(
            !self.1.colors.is_empty(),
            "a pie chart needs at least one colour"
        );
        self
    }

    /// A ring rather than a full disc.
    pub fn donut(mut self) -> Self {
        self.1.donut = true;
        self
    }

    /// Whether each slice shows its value beside it (default: no).
    pub fn labels(mut self, on: bool) -> Self {
        self.1.labels = on;
        self
    }

    fn build(self) -> Node {
        let (chart, options) = (self.0, self.1);
        chart.check_keys([options.name_key.as_str(), options.value_key.as_str()]);
        let palette: Vec<String> = options.colors.iter().map(Paint::css).collect();
        let palette = serde_json::to_string(&palette).unwrap_or_default();
        // Each row gets its slice's colour (recharts reads a row's `fill`), unless it has one.
        let data = Expr {
            js: format!(
                "({}).map((row, i) => ({{ fill: {palette}[i % {}], ...row }}))",
                chart.data.js,
                options.colors.len()
            ),
            deps: chart.data.deps.clone(),
        };
        let pie = expr_prop(recharts("Pie"), "data", data)
            .prop("dataKey", options.value_key.as_str())
            .prop("nameKey", options.name_key.as_str())
            .prop("outerRadius", "80%")
            .prop("stroke", "var(--color-panel-solid)")
            .prop("label", options.labels)
            .prop("isAnimationActive", chart.animate);
        let pie = if options.donut {
            pie.prop("innerRadius", "50%")
        } else {
            pie
        };
        let children = vec![
            chart.tooltip(json!(false)),
            chart.legend(),
            Some(pie.into()),
        ];
        chart.finish(recharts("PieChart"), children)
    }
}

/// A scatter chart: a point per row at its x and y values. See [`scatter_chart`].
#[derive(Clone, Debug)]
pub struct ScatterChart(Chart, ScatterOptions);

#[derive(Clone, Debug)]
struct ScatterOptions {
    y: Option<String>,
    name: String,
    paint: Paint,
}

/// A scatter chart of `data` (a `Var<Vec<T>>` or a `Vec<T>`), a point per row:
/// `scatter_chart(rows).x("height").y("weight").points("People", Paint::Crimson)`.
pub fn scatter_chart<T>(data: impl IntoVar<Vec<T>>) -> ScatterChart {
    ScatterChart(
        Chart::new(data.into_var().into_expr()),
        ScatterOptions {
            y: None,
            name: "points".into(),
            paint: Paint::PALETTE[0].clone(),
        },
    )
}

impl ScatterChart {
    /// The rows' key of each point's x value (a number).
    pub fn x(mut self, key: &str) -> Self {
        self.0.x = Some(key.to_owned());
        self
    }

    /// The rows' key of each point's y value (a number).
    pub fn y(mut self, key: &str) -> Self {
        self.1.y = Some(key.to_owned());
        self
    }

    /// The points' name in the legend and their colour (default `"points"`, indigo).
    pub fn points(mut self, name: &str, paint: impl Into<Paint>) -> Self {
        self.1.name = name.to_owned();
        self.1.paint = paint.into();
        self
    }

    /// Whether the background grid shows (default: yes).
    pub fn grid(mut self, on: bool) -> Self {
        self.0.grid = on;
        self
    }

    /// # Panics
    /// When the x or y key is missing.
    fn build(self) -> Node {
        let (chart, options) = (self.0, self.1);
        let (Some(x), Some(y)) = (chart.x.clone(), options.y.clone()) else {
            panic!("a scatter chart needs its x and y keys: `.x(\"..\").y(\"..\")`");
        };
        chart.check_keys([x.as_str(), y.as_str()]);
        let scatter = expr_prop(recharts("Scatter"), "data", chart.data.clone())
            .prop("name", options.name.as_str())
            .prop("fill", options.paint.css())
            .prop("isAnimationActive", chart.animate);
        let children = vec![
            chart.grid(),
            Some(chart.axis("XAxis", Some(&x), true)),
            Some(chart.axis("YAxis", Some(&y), true)),
            chart.tooltip(json!({"strokeDasharray": "3 3", "stroke": "var(--gray-a7)"})),
            chart.legend(),
            Some(scatter.into()),
        ];
        let root = json_prop(
            recharts("ScatterChart"),
            "margin",
            json!({"top": 8, "right": 24, "bottom": 0, "left": 0}),
        );
        chart.finish(root, children)
    }
}
