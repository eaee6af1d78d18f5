#!/usr/bin/env bash
# Diffuse as a user gets it: pack the project, install the tarball into an empty app (npm registry
# only), and fail on any install warning or error. Then, in that app: an exact oracle runs with no
# runtime installed, a network asks for onnxruntime-node by name, and with onnxruntime-node added
# (its CUDA download denied) `npx diffuse sample --model mnist --plot x.png` draws digits and a
# strict-TypeScript script using the public API (the Node loader included) type-checks and runs.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npm pack --silent --pack-destination "$work" > "$work/name"
tarball="$work/$(cat "$work/name")"
echo "packed $(basename "$tarball"): $(du -h "$tarball" | cut -f1)"
app="$work/app"
mkdir "$app"
cp scripts/pack-check/app.ts "$app/app.ts"
cd "$app"
npm init -y > /dev/null
npm pkg set type=module

# Install steps print nothing but npm's summary: any "npm warn" or "npm error" fails the check.
quiet_install() {
  local log="$work/install.log"
  if ! npm install --no-fund --no-audit "$@" > "$log" 2>&1; then cat "$log"; echo "pack-check: npm install $* failed"; exit 1; fi
  if grep -Ei '^npm (warn|error)' "$log"; then echo "pack-check: npm install $* printed warnings"; exit 1; fi
}

quiet_install "$tarball"
echo "installed (no runtime): $(du -sh node_modules | cut -f1)"
npx --no-install diffuse sample --model ring8 --steps 10 --n 16 > "$work/ring8.txt"
grep -q 'error vs exact ODE endpoint' "$work/ring8.txt"
set +e
npx --no-install diffuse sample --model mnist --steps 5 --n 2 2> "$work/missing.txt"
rc=$?
set -e
if [ "$rc" != 2 ] || ! grep -q 'npm install onnxruntime-node' "$work/missing.txt"; then
  cat "$work/missing.txt"; echo "pack-check: without onnxruntime-node, --model mnist must exit 2 naming the install (got $rc)"; exit 1
fi

npm pkg set allowScripts.onnxruntime-node=false --json
quiet_install onnxruntime-node@1.30.0
echo "installed (with onnxruntime-node): $(du -sh node_modules | cut -f1)"
npx --no-install diffuse list models | grep -q '^  mnist '
npx --no-install diffuse sample --model mnist --steps 10 --cfg 2 --n 20 --plot x.png
test -s x.png
# the README's second main job: the built-in text-to-image model, found by name inside the package
npx --no-install diffuse generate "an ankle boot" --steps 10 --out boot.png --quiet
test -s boot.png
# eval reads the classifier's shipped reference fit: no mnist data package in this app
npx --no-install diffuse eval --n 20 --steps 5 --json > "$work/eval.json"
grep -q '"fd"' "$work/eval.json" || { cat "$work/eval.json"; echo "pack-check: diffuse eval must run without the data packages"; exit 1; }
# Gaussian teleportation: the shipped run and the model's Gaussians, found inside the package
npx --no-install diffuse eval --searched teleport-nfe3 --n 20 --json > "$work/teleport.json"
grep -q '"nfe": 3' "$work/teleport.json" || { cat "$work/teleport.json"; echo "pack-check: diffuse eval --searched teleport-nfe3 must run from the package"; exit 1; }

quiet_install typescript@5.9.3 @types/node@20
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true,
  "noEmit": true, "skipLibCheck": false, "types": ["node"] }, "files": ["app.ts"] }
JSON
npx --no-install tsc -p tsconfig.json
npx --no-install tsc app.ts --outDir out --module NodeNext --moduleResolution NodeNext --target ES2022 --skipLibCheck
mv out/app.js app.js
node app.js | tee "$work/app.txt"
grep -q '"finite":true' "$work/app.txt"
echo "pack-check: ok"
