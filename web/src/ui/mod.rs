//! The yew components, one panel per file.

pub mod app;
mod browser;
mod checkers;
mod client;
mod controls;
mod help;
mod history;
mod inspector;
mod kv;
mod legend;
mod live;
mod live_panels;
mod log_grid;
mod logo;
mod messages;
mod network;
mod ring;
mod scenarios;
mod settings;
mod shared;
mod socket;
mod timeline;
