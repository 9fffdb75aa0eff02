# Sourced by scripts/*: creates .venv with Python >= 3.11 and installs the project
# (with the extras named as arguments) only when pyproject.toml changed.
ensure_venv() {
    local extras="${1:-}"
    local python
    for python in python3.13 python3.12 python3.11 python3; do
        if "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
            break
        fi
        python=""
    done
    if [ -z "$python" ]; then
        echo "mp-webhooks needs Python >= 3.11 on PATH" >&2
        exit 1
    fi
    [ -x .venv/bin/python ] || "$python" -m venv .venv
    local stamp=".venv/.installed-${extras:-base}"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
        touch "$stamp"
    fi
}
