# shellcheck shell=bash
# Helpers shared by the scripts in this folder. Source it; do not run it.
#
# FLOTILLA_WASM_TOOLCHAIN=rustup|debian forces a wasm toolchain path (default: detect).

# Prints a section header.
section() {
  printf '\n\033[1m==> %s\033[0m\n' "$*"
}

# Seconds since $1 (a $EPOCHREALTIME value), with one decimal.
elapsed_since() {
  awk -v start="$1" -v now="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", now - start }'
}

# The version of a package in Cargo.lock (the first one listed under that name).
cargo_lock_version() {
  awk -v name="$1" '
    $0 == "name = \"" name "\"" { found = 1; next }
    found && /^version = / { gsub(/"/, "", $3); print $3; exit }
  ' "$FLOTILLA_ROOT/Cargo.lock"
}

# Which way to compile for wasm32-unknown-unknown:
#   rustup  the toolchain's own wasm32 target (rustup target add wasm32-unknown-unknown);
#   debian  Debian's rustc-web (same major version or newer) rebuilding std from
#           rust-web-src, linked by lld's wasm-ld. See docs/architecture.md.
wasm_toolchain() {
  case "${FLOTILLA_WASM_TOOLCHAIN:-}" in
    rustup | debian) echo "$FLOTILLA_WASM_TOOLCHAIN" ;;
    "")
      if command -v rustup >/dev/null &&
        rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        echo rustup
      else
        echo debian
      fi
      ;;
    *)
      echo "FLOTILLA_WASM_TOOLCHAIN must be rustup or debian, not '$FLOTILLA_WASM_TOOLCHAIN'" >&2
      return 1
      ;;
  esac
}

# The environment that makes cargo (and trunk, which runs cargo) build for wasm32 on the
# Debian path. Exported into the current shell.
export_debian_wasm_env() {
  export RUSTC=/usr/bin/rustc
  export RUSTC_BOOTSTRAP=1
  export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld
}

FLOTILLA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
