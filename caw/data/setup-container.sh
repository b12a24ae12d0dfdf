#!/bin/sh
# caw auth: run inside the container (from its entrypoint) as root.
#   setup-container.sh AUTH_DIR HOME_DIR USER
# Copies the credentials and configs listed in AUTH_DIR/manifest.json into HOME_DIR, owned by
# USER, then keeps each credential in sync both ways with its bind-mounted host file (the CLI
# refreshing its token inside the container must reach the host, and the reverse), so one
# login serves both. Plain `cp` onto the mount: the host file keeps its owner and mode.
# Needs jq; inotify-tools is installed if missing. Prints paths, never file contents.
set -eu
AUTH_DIR=${1:?usage: setup-container.sh AUTH_DIR HOME_DIR USER}
HOME_DIR=${2:?usage: setup-container.sh AUTH_DIR HOME_DIR USER}
TARGET_USER=${3:?usage: setup-container.sh AUTH_DIR HOME_DIR USER}
MANIFEST="$AUTH_DIR/manifest.json"
command -v jq >/dev/null || { echo "caw auth: jq is required in the container" >&2; exit 1; }

install_file() {  # SRC DEST
    mkdir -p "$(dirname "$2")"
    cp "$1" "$2"
    chmod 600 "$2"
    chown "$TARGET_USER" "$(dirname "$2")" "$2" 2>/dev/null || true
}

jq -r '.files[] | [.strategy, .staged, .home_path] | @tsv' "$MANIFEST" |
while IFS="$(printf '\t')" read -r strategy staged home_path; do
    src="$AUTH_DIR/$staged"
    dest="$HOME_DIR/$home_path"
    if [ -f "$src" ]; then
        install_file "$src" "$dest"
        echo "caw auth: $dest ($strategy)"
    else
        echo "caw auth: $src is missing (was it mounted? see caw auth docker-flags)" >&2
    fi
done

if ! command -v inotifywait >/dev/null; then
    (apt-get install -y inotify-tools || apk add inotify-tools || dnf install -y inotify-tools) \
        >/dev/null 2>&1 || true
fi
command -v inotifywait >/dev/null || { echo "caw auth: no inotifywait; credentials will not sync" >&2; exit 0; }

guard() {  # MOUNTED (host file, bind-mounted) LOCAL (the container's copy)
    while true; do
        inotifywait -q -e close_write,moved_to,attrib "$1" "$(dirname "$2")" >/dev/null 2>&1 || sleep 1
        if [ -f "$2" ] && ! cmp -s "$1" "$2"; then
            if [ "$2" -nt "$1" ]; then cp "$2" "$1"; else install_file "$1" "$2"; fi
        fi
    done
}

jq -r '.files[] | select(.strategy == "bind") | [.staged, .home_path] | @tsv' "$MANIFEST" |
while IFS="$(printf '\t')" read -r staged home_path; do
    guard "$AUTH_DIR/$staged" "$HOME_DIR/$home_path" >/dev/null 2>&1 &
done
