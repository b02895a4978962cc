#!/usr/bin/env bash
# Progressive fine-tuning, as photo2cartoon's course trains it: one base model on every face, then one model
# per age group started from the base's weights (gan train --init: fresh optimizers, step 0, the group's
# data), then one per age group and gender started from its group's model.
# Data: $DATA/all/ for the base and $DATA/<group>/ and $DATA/<group>-<gender>/ for the others; for the default
# photo2cartoon each holds trainA/ (photos, prepared with `gan prep`) and trainB/ (cartoons).
# Usage: examples/progressive_finetune.sh DATA/
# Settings (environment): FAMILY (photo2cartoon), GROUPS ("young adult old"), GENDERS ("female male"),
# STEPS_BASE (20000), STEPS_GROUP (5000), WORK (./progressive), OPTS (extra `gan train` flags for the base),
# FT_OPTS (for the fine-tuned runs, e.g. a lower --lr; their -o options come from the checkpoint they start
# from, but --batch-size, --lr and the like are the family's defaults unless given here).
set -euo pipefail
DATA="${1:?usage: $0 DATA/}"
FAMILY="${FAMILY:-photo2cartoon}"
WORK="${WORK:-progressive}"
read -r -a groups <<< "${GROUPS:-young adult old}"
read -r -a genders <<< "${GENDERS:-female male}"
read -r -a opts <<< "${OPTS:-}"
read -r -a ft_opts <<< "${FT_OPTS:-}"

train() {  # NAME DATA_DIR STEPS [gan train flags...]: prints nothing; the run goes to $WORK/NAME
    local name="$1" data="$2" steps="$3"
    shift 3
    echo "== $name: $data, $steps steps $*" >&2
    gan train "$FAMILY" --data "$data" --steps "$steps" --out "$WORK/$name" --quiet "$@" > /dev/null
}

train base "$DATA/all" "${STEPS_BASE:-20000}" "${opts[@]}"
for group in "${groups[@]}"; do
    [ -d "$DATA/$group" ] || { echo "no $DATA/$group: skipped" >&2; continue; }
    train "$group" "$DATA/$group" "${STEPS_GROUP:-5000}" --init "$WORK/base" "${ft_opts[@]}"
    for gender in "${genders[@]}"; do
        [ -d "$DATA/$group-$gender" ] || continue
        train "$group-$gender" "$DATA/$group-$gender" "${STEPS_GROUP:-5000}" --init "$WORK/$group" "${ft_opts[@]}"
    done
done
ls -d "$WORK"/*/generator.safetensors
