#!/bin/sh
# /usr/bin/imds-analyzer: runs the app with the Node.js runtime the package was built for.
# @NODE_MAJOR@ is replaced at build time: the sd-notify addon only loads in that Node.js major.
app_dir=/usr/lib/imds-analyzer
node_major=@NODE_MAJOR@

# A bundled libbpf (Amazon Linux 2, whose own libbpf is 0.x) is opened by path, so
# LD_LIBRARY_PATH stays untouched for the processes the daemon starts.
if [ -z "$IMDS_ANALYZER_LIBBPF" ] && [ -f "$app_dir/lib/libbpf.so.1" ]; then
    IMDS_ANALYZER_LIBBPF="$app_dir/lib/libbpf.so.1"
    export IMDS_ANALYZER_LIBBPF
fi

for node in "$app_dir/runtime/bin/node" "/usr/bin/node-$node_major"; do
    if [ -x "$node" ]; then
        # No --enable-source-maps: parsing the maps costs every start ~20 ms before READY=1.
        # NODE_OPTIONS=--enable-source-maps turns stack traces back into src/ files and lines.
        exec "$node" "$app_dir/bundle/imds-analyzer.mjs" "$@"
    fi
done
echo "imds-analyzer: Node.js $node_major not found: install nodejs$node_major (looked for $app_dir/runtime/bin/node and /usr/bin/node-$node_major)" >&2
exit 127
