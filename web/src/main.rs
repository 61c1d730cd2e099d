//! The wasm entry point that Trunk builds: mounts the app on the page's body.

fn main() {
    yew::Renderer::<flotilla_web::App>::new().render();
}
