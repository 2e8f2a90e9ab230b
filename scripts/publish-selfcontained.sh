#!/usr/bin/env bash
# Builds a self-contained, ReadyToRun-precompiled streamloader for linux-x64 (a short run pays no JIT warm-up tax):
# one composite image of the app and the framework, so precompiled code inlines across assemblies (span helpers,
# channels) and is near the JIT's best before any method is recompiled. The .NET runtime is inside, libtorch is NOT (it comes from the
# target machine, e.g. a PyTorch install's torch/lib, through STREAMLOADER_LIBTORCH). Output:
#   artifacts/streamloader-linux-x64/            the app (run ./streamloader)
#   artifacts/streamloader-linux-x64.tar.gz      the same, packed (about 53 MB)
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/streamloader-linux-x64
rm -rf "$out" "$out.tar.gz"
dotnet publish src/Cli/Cli.csproj -c Release -r linux-x64 --self-contained \
    -p:StreamLoaderNoLibTorch=true -p:DebugType=none -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true -o "$out"
# The Python side of the pipe travels with it.
mkdir -p "$out/scripts"
cp scripts/read_frames.py "$out/scripts/"
cp -r scripts/gpu "$out/scripts/"
tar -C artifacts -czf "$out.tar.gz" streamloader-linux-x64
du -sh "$out" "$out.tar.gz"
echo "run: STREAMLOADER_LIBTORCH=\$(python3 -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),\"lib\"))') $out/streamloader doctor"
