# Sourced by demo.sh and test.sh: the environment both need.
# shellcheck shell=bash

# The repository root, whatever the caller's working directory.
FLO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export FLO_ROOT

# CUDA: when the toolkit is installed in its usual place, put nvcc on PATH
# so that meson's cuda=auto finds it (the build works without it too).
if [[ -x /usr/local/cuda/bin/nvcc ]]; then
    case ":$PATH:" in
        *:/usr/local/cuda/bin:*) ;;
        *) export PATH="/usr/local/cuda/bin:$PATH" ;;
    esac
    export CUDA_PATH="${CUDA_PATH:-/usr/local/cuda}"
fi

# Open MPI refuses to start as root unless told; CI runs as root. Allow
# more ranks than cores (CI machines have two), and avoid the
# cross-memory-attach copy that containers usually forbid.
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
: "${OMPI_MCA_rmaps_base_oversubscribe:=1}"
: "${OMPI_MCA_btl_vader_single_copy_mechanism:=none}"
export OMPI_MCA_rmaps_base_oversubscribe
export OMPI_MCA_btl_vader_single_copy_mechanism

# Configure build directory $1 from the sources with the remaining
# arguments as options. An existing build directory is kept and its
# options are updated (meson 1.0 `setup --reconfigure` ignores some -D
# options, `configure` does not); one that cannot be is set up afresh.
flo_meson_setup() {
    local dir=$1
    shift
    if [[ -f "$dir/meson-private/coredata.dat" && -f "$dir/build.ninja" ]]
    then
        if [[ $# -eq 0 ]] || meson configure "$dir" "$@" >/dev/null; then
            return 0
        fi
        echo "flo_meson_setup: cannot update $dir, setting it up again"
    fi
    rm -rf "$dir"
    meson setup "$dir" "$FLO_ROOT" "$@"
}
