# Shared by scripts/bench.sh and scripts/bench-fleet.sh (sourced, not run).
#
# bench_run NAME TARGET PROGRESS ARGS...: writes the Command and Tree lines
# of $OUT/results.md, runs the command in the array cmd under GNU time
# (stdout appended to results.md, stderr to $OUT/stderr.log), follows its
# progress on stderr (every line, or only those matching the grep pattern
# PROGRESS when it is not empty) and exits with its status if it fails.
# ARGS are the script's own arguments, for the Command line.

bench_run() {
  local name=$1 target=$2 progress=$3
  shift 3
  # Read-only git: GIT_OPTIONAL_LOCKS=0 keeps describe/status from
  # refreshing the index while others commit in this tree.
  export GIT_OPTIONAL_LOCKS=0
  {
    if [ $# -eq 0 ]; then
      echo "Command: \`make $target\` (\`./scripts/$name.sh\`, which ran \`${cmd[*]}\`)"
    else
      echo "Command: \`./scripts/$name.sh $*\` (which ran \`${cmd[*]}\`)"
    fi
    echo
    echo "Tree: \`$(git describe --always --dirty 2>/dev/null || echo unknown)\` ($(git log -1 --format='%h %s' 2>/dev/null || echo 'no git'); uncommitted changes: $(git status --porcelain 2>/dev/null | wc -l) files)"
    echo
  } >"$OUT/results.md"
  echo "$name: ${cmd[*]} (progress on stderr; results in $OUT)" >&2
  local timecmd=()
  [ -x /usr/bin/time ] && timecmd=(/usr/bin/time -v) # GNU time: the bench process's own rusage
  "${timecmd[@]}" "${cmd[@]}" >>"$OUT/results.md" 2>"$OUT/stderr.log" &
  local pid=$!
  if [ -n "$progress" ]; then
    tail -f "$OUT/stderr.log" --pid=$pid | grep --line-buffered "$progress" >&2 &
  else
    tail -f "$OUT/stderr.log" --pid=$pid >&2 &
  fi
  local status=0
  wait $pid || status=$?
  wait || true
  if [ $status -ne 0 ]; then
    echo "$name: failed with status $status (see $OUT/stderr.log)" >&2
    exit $status
  fi
}
