#!/usr/bin/env bash
# Regenerate the README's pictures with the app's own --screenshot (no display needed).
#   bash scripts/make_screenshots.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/screenshots}
mkdir -p "$out"
settings=$(mktemp -d)/screenshots.ini
image=resources/images/chelsea.png
for panel in attention rnn vit captioning video training; do
  python -m explorer "$image" --panel "$panel" --theme light --size 1280x800 \
    --settings "$settings" --screenshot "$out/$panel-light.png"
done
for panel in attention vit; do
  python -m explorer "$image" --panel "$panel" --theme dark --size 1280x800 \
    --settings "$settings" --screenshot "$out/$panel-dark.png"
done
# The ViT panel's steps 8-11 (relevance, head ablation, all heads, logit lens) at 1280x720.
for theme in light:both dark:scene; do
  models=${theme#*:}; theme=${theme%:*}
  PYTHONPATH=. python scripts/screenshot_vit_explain.py "$out" --theme "$theme" --models "$models"
done
