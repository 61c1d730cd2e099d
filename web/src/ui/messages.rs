//! Messages in flight and lost messages, drawn on a canvas laid over the ring's SVG.
//!
//! Why a canvas: with a few hundred messages in flight, making each one an SVG element means
//! diffing and restyling hundreds of DOM nodes every frame, which is what kept the page
//! below 60 fps. A canvas is cleared and painted in one pass with no DOM work at all; nodes
//! and links stay SVG, where they are clickable. Colours come from the same CSS variables
//! as the rest of the page, so both themes apply.

use super::ring::{along, position, LABELS_MAX, LANE, SIZE};
use super::shared::ClusterRef;
use flotilla_core::types::NodeId;
use wasm_bindgen::JsCast;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct MessageLayerProps {
    pub cluster: ClusterRef,
    pub display_ms: f64,
}

/// The colours of one theme, read from the page's CSS variables.
struct Palette {
    append: String,
    heartbeat: String,
    vote: String,
    prevote: String,
    snapshot: String,
    timeout: String,
    bad: String,
    card: String,
    muted: String,
}

impl Palette {
    fn read() -> Option<Palette> {
        let window = web_sys::window()?;
        let root = window.document()?.document_element()?;
        let style = window.get_computed_style(&root).ok()??;
        let var = |name: &str| {
            style
                .get_property_value(name)
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        Some(Palette {
            append: var("--m-append"),
            heartbeat: var("--m-heartbeat"),
            vote: var("--m-vote"),
            prevote: var("--m-prevote"),
            snapshot: var("--m-snapshot"),
            timeout: var("--m-timeout"),
            bad: var("--bad"),
            card: var("--card"),
            muted: var("--muted"),
        })
    }

    fn colour(&self, class: &str) -> &str {
        let kind = class.split(' ').next().unwrap_or("");
        match kind {
            "m-heartbeat" => &self.heartbeat,
            "m-vote" => &self.vote,
            "m-prevote" => &self.prevote,
            "m-snapshot" => &self.snapshot,
            "m-timeout" => &self.timeout,
            _ => &self.append,
        }
    }
}

#[function_component(MessageLayer)]
pub fn message_layer(props: &MessageLayerProps) -> Html {
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        let cluster = props.cluster.clone();
        let display_ms = props.display_ms;
        // Runs after every render: the canvas is repainted whenever the ring is.
        use_effect(move || {
            paint(&canvas, &cluster, display_ms);
        });
    }
    html! { <canvas ref={canvas} class="ring-canvas" aria-hidden="true"></canvas> }
}

fn paint(canvas: &NodeRef, cluster: &ClusterRef, display_ms: f64) {
    let Some(canvas) = canvas.cast::<web_sys::HtmlCanvasElement>() else {
        return;
    };
    let Some(palette) = Palette::read() else {
        return;
    };
    // Match the backing store to the displayed size (and the screen's pixel ratio).
    let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
    let (css_w, css_h) = (canvas.client_width() as f64, canvas.client_height() as f64);
    let (w, h) = (
        (css_w * ratio).round() as u32,
        (css_h * ratio).round() as u32,
    );
    if w == 0 || h == 0 {
        return;
    }
    if canvas.width() != w || canvas.height() != h {
        canvas.set_width(w);
        canvas.set_height(h);
    }
    let Ok(Some(context)) = canvas.get_context("2d") else {
        return;
    };
    let Ok(ctx) = context.dyn_into::<web_sys::CanvasRenderingContext2d>() else {
        return;
    };
    ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0).ok();
    ctx.clear_rect(0.0, 0.0, w as f64, h as f64);
    // The SVG's viewBox is SIZE x SIZE, centred ("xMidYMid meet"): use the same mapping.
    let scale = (w as f64 / SIZE).min(h as f64 / SIZE);
    let (ox, oy) = (
        (w as f64 - SIZE * scale) / 2.0,
        (h as f64 - SIZE * scale) / 2.0,
    );
    ctx.set_transform(scale, 0.0, 0.0, scale, ox, oy).ok();

    let (ids, flights, drops) = cluster.with(|c| {
        let ids: Vec<NodeId> = c.nodes().iter().map(|v| v.id).collect();
        (ids, c.flights(display_ms), c.drops(display_ms))
    });
    let n = ids.len() as u32;
    let place = |id: NodeId| {
        ids.iter()
            .position(|&i| i == id)
            .map(|i| position(i as u32, n))
    };
    let labels = flights.len() <= LABELS_MAX;
    ctx.set_font("9.5px system-ui, sans-serif");
    ctx.set_text_align("center");
    for f in &flights {
        let (Some(a), Some(b)) = (place(f.from), place(f.to)) else {
            continue;
        };
        let span = (f.deliver_ms - f.sent_ms).max(0.5);
        let progress = (display_ms - f.sent_ms) / span;
        let (x, y) = along(a, b, progress, LANE);
        let class = f.class;
        let colour = palette.colour(class);
        let response = class.contains("resp");
        ctx.begin_path();
        let _ = ctx.arc(x, y, 6.0, 0.0, std::f64::consts::TAU);
        if response {
            // Replies are hollow rings, refusals ringed in red.
            ctx.set_fill_style_str(&palette.card);
            ctx.fill();
            ctx.set_line_width(2.5);
            ctx.set_stroke_style_str(if class.contains("nack") {
                &palette.bad
            } else {
                colour
            });
            ctx.stroke();
        } else {
            ctx.set_fill_style_str(colour);
            ctx.fill();
            ctx.set_line_width(1.5);
            ctx.set_stroke_style_str(&palette.card);
            ctx.stroke();
        }
        if labels {
            ctx.set_fill_style_str(&palette.muted);
            let _ = ctx.fill_text(&f.label, x, y - 9.0);
        }
    }
    // Lost messages: a red cross where they were lost, fading out.
    for d in &drops {
        let (Some(a), Some(b)) = (place(d.from), place(d.to)) else {
            continue;
        };
        // Where it was lost: on the wire (loss), at the cut (partition), or at the door of
        // a crashed node.
        let at = match d.reason.as_str() {
            "crashed" => 0.95,
            "partition" | "cut" => 0.5,
            _ => 0.3,
        };
        let (x, y) = along(a, b, at, LANE);
        ctx.set_global_alpha((1.0 - d.age).clamp(0.0, 1.0));
        ctx.set_fill_style_str(&palette.bad);
        ctx.set_font("bold 18px system-ui, sans-serif");
        let _ = ctx.fill_text("✗", x, y + 6.0);
        ctx.set_font("9px system-ui, sans-serif");
        let _ = ctx.fill_text(&format!("{} {}", d.kind, d.reason), x, y + 20.0);
    }
    ctx.set_global_alpha(1.0);
}
