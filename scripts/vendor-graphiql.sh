#!/usr/bin/env bash
# Refreshes assets/graphiql/ from the npm registry: GraphiQL 4.1.2 (the last release with a
# browser bundle), React 18.3.1 (React 19 has none), each checked against its published
# integrity, and the shallow introspection query of graphql-js 16.15.0, which fits the depth
# limit of 10 that GraphiQL's own (15 levels) would exceed. The files are committed, so a build
# never needs npm or the network; run this only to change a version.
set -euo pipefail
cd "$(dirname "$0")/.."
out=assets/graphiql
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() { # fetch PACKAGE@VERSION SHA512
  (cd "$work" && npm pack "$1" --silent >/dev/null)
  local tarball=$work/$(echo "${1%@*}" | tr -d @ | tr / -)-${1##*@}.tgz
  local sum
  sum=sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)
  [[ $sum == "$2" ]] || { echo "$1: integrity $sum, expected $2" >&2; exit 1; }
  mkdir -p "$work/${1%@*}"
  tar xzf "$tarball" -C "$work/${1%@*}"
}
fetch graphiql@4.1.2 sha512-rNlzQIAzm6i2KBXmVQWBgLvt0TloxFVB2d18bukvdsvjEuFDHsKx5IVOomL1W1o5WW+tE54+ioHb2AEKzO2cUg==
fetch react@18.3.1 sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==
fetch react-dom@18.3.1 sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==
(cd "$work" && npm pack graphql@16.15.0 --silent >/dev/null && mkdir -p graphql && tar xzf graphql-16.15.0.tgz -C graphql)

cp "$work/graphiql/package/graphiql.min.js" "$work/graphiql/package/graphiql.min.css" "$out/"
cp "$work/react/package/umd/react.production.min.js" "$out/"
cp "$work/react-dom/package/umd/react-dom.production.min.js" "$out/"
cp "$work/graphiql/package/LICENSE" "$out/LICENSE.graphiql"
cp "$work/react/package/LICENSE" "$out/LICENSE.react"
cp "$work/react-dom/package/LICENSE" "$out/LICENSE.react-dom"
cp "$work/graphql/package/LICENSE" "$out/LICENSE.graphql-js"
node -e '
  const { getIntrospectionQuery } = require(process.argv[1]);
  process.stdout.write(getIntrospectionQuery({ typeDepth: 4 }).trim() + "\n");
' "$work/graphql/package" >"$out/introspection.graphql"
echo "assets/graphiql refreshed"
