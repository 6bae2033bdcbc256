# sedcycle: `make demo` sets up .venv and runs the synthetic demo; `make test` sets up and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: setup demo demo-seeds demo-figure test lint format bench quality clean-results \
	real-data real-data-no-negatives real-data-seeds real-data-weak-negatives \
	real-data-defaults real-data-rounds-grid real-data-relabel-min-steps \
	real-data-relabel-min-steps-360 real-data-window-passes real-data-hidden-labels \
	real-data-hidden-unknown-weight \
	real-data-hidden-rounds-grid real-data-hidden-variants real-data-prior-scaling \
	stage-selection window-passes \
	setup-cluster test-cluster bench-scaling bench-review

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# .venv plus the SLURM and cluster-generic executor plugins (requirements-cluster.lock), in a
# venv of its own that sees .venv's packages: installed in .venv, the slurm plugin would add
# about 10 s to every snakemake call on a machine with sbatch but no reachable controller.
CLUSTER_VENV := .venv-cluster

setup-cluster: $(CLUSTER_VENV)/.installed

$(CLUSTER_VENV)/.installed: $(VENV)/.installed requirements-cluster.lock
	$(BIN)/python -m venv --without-pip $(CLUSTER_VENV)  # pip, setuptools: .venv's
	$(CLUSTER_VENV)/bin/python -c 'import sys, sysconfig; open(sysconfig.get_path("purelib") \
		+ "/sedcycle-base.pth", "w").write(f"import site; site.addsitedir({sys.argv[1]!r})\n")' \
		"$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
	$(CLUSTER_VENV)/bin/python -m pip install --quiet --no-deps -r requirements-cluster.lock
	$(CLUSTER_VENV)/bin/python -m pip check
	printf '#!/bin/sh\nexec "$$(dirname "$$0")/python" -m snakemake "$$@"\n' \
		> $(CLUSTER_VENV)/bin/snakemake
	chmod +x $(CLUSTER_VENV)/bin/snakemake
	touch $@

# Installs and starts a one-node SLURM (root and apt-get needed), runs the workflow through it.
test-cluster: setup-cluster
	SEDCYCLE_CLUSTER_TEST=1 $(BIN)/python -m pytest -q -m cluster

# Predict-only over 2,000 synthetic recordings at 1, 2, 4 and 8 shards through the local
# one-node SLURM of test-cluster (root; started here and stopped afterwards, whatever happened),
# after training the demo once in /tmp/sedcycle-scaling: bench/scaling.py writes
# bench/results/scaling.md. SCALING_ARGS passed on (e.g. --models DIR, --root DIR).
SCALING_ARGS ?=

bench-scaling: setup-cluster
	bash tests/cluster/start_local_slurm.sh
	$(BIN)/python bench/scaling.py $(SCALING_ARGS); status=$$?; \
		bash tests/cluster/stop_local_slurm.sh; exit $$status

# The demo's jobs are small: one thread each, two side by side on 2 cores, finish sooner than
# one two-thread job at a time (measured: the workflow in 4.9 instead of 8.1 min). Another
# thread count changes the scores' last digits; demo-seeds uses the same.
DEMO_THREADS ?= 1

demo: setup
	$(BIN)/snakemake --cores $(CORES) --max-threads $(DEMO_THREADS)

# The demo over training seeds 0 1 2, one after another (bench/demo_seeds.py, runs kept in
# bench/demo_runs/): does each seed learn, does its last round keep stage 1's score?
# Writes bench/results/demo_seeds.md.
demo-seeds: setup
	$(BIN)/python bench/demo_seeds.py --seeds 0 1 2 --cores $(CORES) \
		--max-threads $(DEMO_THREADS)

# The review loop with a simulated reviewer (bench/review_sim.py, runs kept in
# bench/review_runs/): no review against each selection strategy over training seeds 0 1 2, two
# workflows at once on one core each.
# Writes bench/results/review_sim.md and .png. REVIEW_ARGS passed on (e.g. --summary-only).
REVIEW_ARGS ?=

bench-review: setup
	$(BIN)/python bench/review_sim.py --seeds 0 1 2 $(REVIEW_ARGS)

# The README's figure: the demo's own figures/lwlrap.png, copied after `make demo`.
demo-figure: demo
	mkdir -p docs/images && cp figures/lwlrap.png docs/images/demo_lwlrap.png

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/snakemake --lint --cores 1 --configfile tests/data/tiny.yaml --directory $$(mktemp -d)

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt Snakefile rules/

# pytest-xdist workers, each test file on one worker (its module fixtures made once)
TEST_WORKERS ?= 2

test: lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=10

# Benchmarks against named baselines (bench/), 5-11 min on 2 cores: writes bench/results/speed.md.
# DEMO_DIR: a finished demo's working directory, whose benchmarks/*.tsv give the demo's minutes.
DEMO_DIR ?= .

bench: setup
	$(BIN)/python bench/run_all.py --demo-workdir $(DEMO_DIR)

# The quality benchmark (bench/quality.py): VARIANTS over training SEEDS, ARGS passed on, the
# report written to OUT. The defaults regenerate the headline report; bench/README.md lists
# every report in bench/results/ with the `make quality ...` that regenerates it. Runs are kept
# in bench/quality_runs/ (ARGS="--root DIR" elsewhere): a finished run is not run again.
VARIANTS = mixup_0.4_stage2_then_soft_1 mixup_0.4_stage2_then_soft_oof_1 \
    mixup_0.4_no_pseudo_labels mixup_0.4_no_pseudo_labels_6_epochs
SEEDS = 0 1 2 3 4 5 6 7 8
ARGS = --fresh --folds --teachers
OUT = bench/results/quality_mixup_9_seeds.md
quality: setup
	$(BIN)/python bench/quality.py --seeds $(SEEDS) --variants $(VARIANTS) $(ARGS) --out $(OUT)

clean-results:
	rm -rf data/synthetic features models predictions pseudo scores logs benchmarks npz \
		folds.csv scores.json scores.csv figures report.html submission.csv predictions.csv predictions_windows.parquet .snakemake

# The real-data quality benchmark (bench/real_annotated.py): config.yaml's defaults on small
# public annotated sets of real animal recordings. assemble.py extracts each set's files at the
# commits of bench/real_data/manifest.csv (sha256-checked) from local git clones of their
# repositories (REPOS="--repo owner/name=PATH ..."; default bench/real_data/repos/owner+name), then
# each set (piha, bobwhite, insects: bench/real_data/README.md) runs in bench/real_runs/{set} (a
# finished set is not rerun: snakemake is not called for it) and the report is
# bench/results/real_annotated.md.
REPOS =
real-data: setup
	$(BIN)/python bench/real_data/assemble.py $(REPOS)
	$(BIN)/python bench/real_annotated.py

# The one-species sets without any negatives (data.annotated.negatives none: train_fp.csv
# empty), with stage 1 on event crops and the unknown pairs unweighted, then with unknown_weight
# auto (weak negatives of 0.1; the runs start from copies of the no-negatives ones, stage 1 is
# shared): side by side, with the defaults' runs above, in
# bench/results/real_annotated_no_negatives.md. Then stage 1 on grid crops with unknown_weight
# auto, what the defaults resolve to without fp rows: bench/results/real_annotated_few_negatives.md,
# with the defaults' runs (bench/real_runs). The insects set is not among them (measured before
# it was added; its runs take hours on 2 cores).
VARIANTS_DIR = bench/real_data/variants
NO_NEGATIVES_SETS = --sets piha bobwhite
real-data-no-negatives: real-data
	$(BIN)/python bench/real_annotated.py $(NO_NEGATIVES_SETS) --root bench/real_runs/no_negatives \
		--config $(VARIANTS_DIR)/no_negatives.yaml --out bench/real_runs/no_negatives/report.md
	$(BIN)/python bench/real_annotated.py $(NO_NEGATIVES_SETS) \
		--root bench/real_runs/no_negatives_auto --start-from bench/real_runs/no_negatives \
		--config $(VARIANTS_DIR)/no_negatives_auto.yaml --out bench/real_runs/no_negatives_auto/report.md
	$(BIN)/python bench/real_annotated.py $(NO_NEGATIVES_SETS) \
		--out bench/results/real_annotated_no_negatives.md --compare "defaults=bench/real_runs" "none, unknown_weight 0=bench/real_runs/no_negatives" \
		"none, unknown_weight auto=bench/real_runs/no_negatives_auto"
	$(BIN)/python bench/real_annotated.py $(NO_NEGATIVES_SETS) --root bench/real_runs/no_negatives_auto_grid \
		--config $(VARIANTS_DIR)/no_negatives_auto_grid.yaml --out bench/real_runs/no_negatives_auto_grid/report.md
	$(BIN)/python bench/real_annotated.py $(NO_NEGATIVES_SETS) \
		--out bench/results/real_annotated_few_negatives.md --compare "defaults=bench/real_runs" \
		"none, stage1.crops grid, unknown_weight auto=bench/real_runs/no_negatives_auto_grid"

# Training length: stage 1 with no step floor (stage1.min_steps 0, the defaults before the
# floor) and with 360 steps (the defaults since), over training seeds 0, 1, 2
# (bench/real_data/seeds/), on the one-species sets; then without any negatives, stage 1 on the
# grid without and with the floor (the no-negatives runs of seed 0 come from
# real-data-no-negatives). Each run starts from a copy of a finished one (features kept). Side
# by side, grouped by variant and paired seed by seed: bench/results/real_annotated_seeds.md.
SEED_RUNS = bench/real_runs
SEED = $$([ $$s = 0 ] || echo "--config bench/real_data/seeds/seed$$s.yaml")
SUFFIX = $$([ $$s = 0 ] || echo _seed$$s)
# In a `for s in ...` loop, seed $$s's run of bench/real_annotated.py on sets $(1) in root $(2)
# (its seed's folder, with the seed's config), more arguments $(3)
RUN_SEED = $(BIN)/python bench/real_annotated.py $(1) --root $(2)$(SUFFIX) $(3) $(SEED) --out $(2)$(SUFFIX)/report.md || exit 1;
# the roots of training seeds 0, 1, 2 of root $(1), as one --compare group
SEEDS_OF = $(1):$(1)_seed1:$(1)_seed2
real-data-seeds: real-data-no-negatives
	for s in 0 1 2; do \
		for v in stage1_min_steps_0 stage1_min_steps; do \
			$(call RUN_SEED,$(NO_NEGATIVES_SETS),$(SEED_RUNS)/$$v,--start-from bench/real_runs --config $(VARIANTS_DIR)/$$v.yaml) \
		done; \
		[ $$s = 0 ] || $(call RUN_SEED,$(NO_NEGATIVES_SETS),$(SEED_RUNS)/no_negatives_auto_grid,\
			--start-from bench/real_runs/no_negatives_auto_grid --config $(VARIANTS_DIR)/no_negatives_auto_grid.yaml) \
		$(call RUN_SEED,$(NO_NEGATIVES_SETS),$(SEED_RUNS)/no_negatives_auto_grid_min_steps,\
			--start-from $(SEED_RUNS)/no_negatives_auto_grid$(SUFFIX) \
			--config $(VARIANTS_DIR)/no_negatives_auto_grid_min_steps.yaml) \
	done
	$(BIN)/python bench/real_annotated.py $(NO_NEGATIVES_SETS) --out bench/results/real_annotated_seeds.md --compare \
		"stage1.min_steps 0=$(call SEEDS_OF,$(SEED_RUNS)/stage1_min_steps_0)" \
		"stage1.min_steps 360=$(call SEEDS_OF,$(SEED_RUNS)/stage1_min_steps)" \
		"no negatives, min_steps 0=$(call SEEDS_OF,$(SEED_RUNS)/no_negatives_auto_grid)" \
		"no negatives, min_steps 360=$(call SEEDS_OF,$(SEED_RUNS)/no_negatives_auto_grid_min_steps)"

# The weak negatives in every round (relabel.unknown_weight 0.1, the default since 6f68d71)
# against the defaults before (unknown_weight auto), i.e. real-data-seeds' stage1.min_steps 360
# runs, over training seeds 0 and 1. Only Bobwhite changes: auto gave it no weak negatives (its
# fp rows are as many as its tp rows), while Piha's rounds had them already (70 fp < 243 tp
# rows: the same settings, so its runs in real_annotated_seeds.md are the defaults' too). The
# defaults run afresh in bench/real_runs/defaults_weak{,_seed1}; side by side:
# bench/results/real_annotated_weak_negatives.md.
WEAK = bench/real_runs/defaults_weak
real-data-weak-negatives: real-data-seeds
	for s in 0 1; do \
		$(call RUN_SEED,--sets bobwhite,$(WEAK),$$([ $$s = 0 ] || echo --start-from $(WEAK))) \
	done
	$(BIN)/python bench/real_annotated.py --sets bobwhite --out bench/results/real_annotated_weak_negatives.md --compare \
		"unknown_weight auto=$(SEED_RUNS)/stage1_min_steps:$(SEED_RUNS)/stage1_min_steps_seed1" \
		"unknown_weight 0.1 (the defaults)=$(WEAK):$(WEAK)_seed1"

# config.yaml's defaults as they are now on the three sets over training seeds 0, 1, 2, trained
# on 2 threads (seed 0 in bench/real_runs, as real-data makes it; seeds 1 and 2 from copies of
# it, features kept), and the two one-species sets (minutes a run) again on 1 thread (fresh
# roots: another thread count is another run, and snakemake would see nothing to redo in a
# copy). An insects run takes about 15 min on 2 idle cores. One group each, mean ± std, in
# bench/results/real_annotated_defaults.md.
ALL_SETS = --sets piha bobwhite insects
ONE_SPECIES = --sets piha bobwhite
ONE_THREAD = bench/real_runs/defaults_1thread
real-data-defaults: setup
	$(BIN)/python bench/real_data/assemble.py $(REPOS)
	$(BIN)/python bench/real_annotated.py $(ALL_SETS) --out bench/real_runs/report_all_sets.md
	for s in 1 2; do \
		$(call RUN_SEED,$(ALL_SETS),bench/real_runs/defaults,--start-from bench/real_runs) \
	done
	for s in 0 1 2; do \
		$(call RUN_SEED,$(ONE_SPECIES),$(ONE_THREAD),--cores 1) \
	done
	$(BIN)/python bench/real_annotated.py $(ALL_SETS) --out bench/results/real_annotated_defaults.md --compare \
		"defaults, 2 threads=bench/real_runs:bench/real_runs/defaults_seed1:bench/real_runs/defaults_seed2" \
		"defaults, 1 thread=$(call SEEDS_OF,$(ONE_THREAD))"

# The rounds' step floor: relabel.min_steps 90 (what the RFCx-shaped benchmark's rounds take;
# Bobwhite's take 12, Piha's 36) on the one-species sets, from copies of real-data-defaults'
# 1-thread runs (stage 1 kept, the rounds retrained), over training seeds 0, 1, 2, on 1
# thread; side by side with those runs in bench/results/real_annotated_relabel_min_steps.md.
MIN_STEPS = bench/real_runs/relabel_min_steps_90
real-data-relabel-min-steps: real-data-defaults
	for s in 0 1 2; do \
		$(call RUN_SEED,$(ONE_SPECIES),$(MIN_STEPS),--cores 1 --start-from $(ONE_THREAD)$(SUFFIX) \
			--config $(VARIANTS_DIR)/relabel_min_steps_90.yaml) \
	done
	$(BIN)/python bench/real_annotated.py $(ONE_SPECIES) --out bench/results/real_annotated_relabel_min_steps.md --compare \
		"defaults, 1 thread=$(call SEEDS_OF,$(ONE_THREAD))" \
		"relabel.min_steps 90, 1 thread=$(call SEEDS_OF,$(MIN_STEPS))"

# The rounds' step floor at stage 1's value: relabel.min_steps 360 (variants/relabel_min_steps_360.yaml)
# on the one-species sets from copies of real-data-defaults' 1-thread runs (1 thread), and on the
# insects set from copies of its 2-thread runs (seed 0 in bench/real_runs, seeds 1 and 2 in
# bench/real_runs/defaults_seed{1,2}; 2 threads), stage 1 kept and the rounds retrained, over
# training seeds 0, 1, 2; side by side with those runs in
# bench/results/real_annotated_relabel_min_steps_360{,_insects}.md.
MIN_STEPS_360 = bench/real_runs/relabel_min_steps_360
DEFAULTS_2T = $$([ $$s = 0 ] && echo bench/real_runs || echo bench/real_runs/defaults_seed$$s)
real-data-relabel-min-steps-360: real-data-defaults
	for s in 0 1 2; do \
		$(call RUN_SEED,$(ONE_SPECIES),$(MIN_STEPS_360),--cores 1 --start-from $(ONE_THREAD)$(SUFFIX) \
			--config $(VARIANTS_DIR)/relabel_min_steps_360.yaml) \
		$(call RUN_SEED,--sets insects,$(MIN_STEPS_360)_insects,--start-from $(DEFAULTS_2T) \
			--config $(VARIANTS_DIR)/relabel_min_steps_360.yaml) \
	done
	$(BIN)/python bench/real_annotated.py $(ONE_SPECIES) --out bench/results/real_annotated_relabel_min_steps_360.md --compare \
		"defaults, 1 thread=$(call SEEDS_OF,$(ONE_THREAD))" \
		"relabel.min_steps 360, 1 thread=$(call SEEDS_OF,$(MIN_STEPS_360))"
	$(BIN)/python bench/real_annotated.py --sets insects --out bench/results/real_annotated_relabel_min_steps_360_insects.md --compare \
		"defaults, 2 threads=bench/real_runs:bench/real_runs/defaults_seed1:bench/real_runs/defaults_seed2" \
		"relabel.min_steps 360, 2 threads=$(call SEEDS_OF,$(MIN_STEPS_360)_insects)"

# The rounds' floor in passes over the fold's windows: relabel.min_window_passes 1
# (variants/relabel_window_passes_1.yaml) on Bobwhite, the one real set where it binds (its rounds'
# random crops make about half a pass in 3 epochs; Piha's, the insects' more than one, which the
# floor leaves as they are), from copies of real-data-defaults' 1-thread runs (stage 1 kept, the
# rounds retrained), training seeds 0, 1, 2, 1 thread:
# bench/results/real_annotated_window_passes.md.
PASSES = bench/real_runs/relabel_window_passes_1
real-data-window-passes: real-data-defaults
	for s in 0 1 2; do \
		$(call RUN_SEED,--sets bobwhite,$(PASSES),--cores 1 --start-from $(ONE_THREAD)$(SUFFIX) \
			--config $(VARIANTS_DIR)/relabel_window_passes_1.yaml) \
	done
	$(BIN)/python bench/real_annotated.py --sets bobwhite --out bench/results/real_annotated_window_passes.md --compare \
		"defaults, 1 thread=$(call SEEDS_OF,$(ONE_THREAD))" \
		"relabel.min_window_passes 1, 1 thread=$(call SEEDS_OF,$(PASSES))"

# Where relabel.min_window_passes binds (bench/window_passes.py, nothing trained): each fold's
# grid windows and a round's random crops, from the folds and tp/fp tables of finished runs (the
# real sets' 1-thread and 2-thread defaults above, the demo's seed 0 of `make demo-seeds`, the
# RFCx-shaped defaults' seed 0 on both draws of `make quality`) and the quality benchmark's data
# drawn without audio: bench/results/window_passes.md.
RQ0 = bench/quality_runs_rfcx_shaped_defaults/defaults/seed0
window-passes: setup
	$(BIN)/python bench/window_passes.py \
		--run bobwhite $(ONE_THREAD)/bobwhite bench/real_data/bobwhite.yaml \
		--run piha $(ONE_THREAD)/piha bench/real_data/piha.yaml \
		--run insects bench/real_runs/insects bench/real_data/insects.yaml \
		--run demo bench/demo_runs/seed0 \
		--run rfcx_shaped_draw0 $(RQ0)_draw0 bench/rfcx_shaped_data.yaml \
		--run rfcx_shaped_draw1 $(RQ0)_draw1 bench/rfcx_shaped_data.yaml \
		--synthetic quality_shape bench/quality_shape.yaml --synthetic label_shape bench/review_sim.yaml \
		--out bench/results/window_passes.md

# Relabelling on real recordings: the defaults with the labels of 75 % of each set's train
# recordings left out (--hide-labels 0.75 --hide-seed 0: drawn within recordings of the same
# species, each keeping one; the same draw for every training seed), as RFCx's train recordings
# without a tp row; with every label, tp/fp leave no window unlabelled, so the rounds have
# nothing to relabel. Training seeds 0, 1, 2: the one-species sets on 1 thread, the insects on
# 2, and the insects again with a second draw of the hidden recordings (--hide-seed 1), beside
# the defaults' runs with every label in bench/results/real_annotated_hidden_labels.md.
HIDDEN = bench/real_runs/hidden_labels
HIDE = --hide-labels 0.75 --hide-seed 0
real-data-hidden-labels: real-data-defaults
	for s in 0 1 2; do \
		$(call RUN_SEED,$(ONE_SPECIES),$(HIDDEN),--cores 1 $(HIDE)) \
		$(call RUN_SEED,--sets insects,$(HIDDEN)_insects,$(HIDE)) \
		$(call RUN_SEED,--sets insects,$(HIDDEN)_draw1_insects,--hide-labels 0.75 --hide-seed 1) \
	done
	$(BIN)/python bench/real_annotated.py $(ALL_SETS) --out bench/results/real_annotated_hidden_labels.md --compare \
		"every label, 1 thread=$(call SEEDS_OF,$(ONE_THREAD))" \
		"every label, 2 threads=bench/real_runs:bench/real_runs/defaults_seed1:bench/real_runs/defaults_seed2" \
		"75 % hidden, 1 thread=$(call SEEDS_OF,$(HIDDEN))" \
		"75 % hidden, 2 threads=$(call SEEDS_OF,$(HIDDEN)_insects)" \
		"75 % hidden (draw 1), 2 threads=$(call SEEDS_OF,$(HIDDEN)_draw1_insects)"

# The weight of the unlabelled pairs in the rounds on the hidden-label insects (where tp/fp
# leave calls unmarked): relabel.unknown_weight 1 (stage 1's "unlabelled = absent") and 0 (the
# source's masked loss) on draws 0 and 1, against the defaults' 0.1, training seeds 0, 1, 2, on
# 2 threads; full runs (stage 1 retrained: it matches the defaults' to the digit) but for 1 on
# draw 1, which starts from 0's runs (rounds only):
# bench/results/real_annotated_hidden_unknown_weight.md.
UW = bench/real_runs/relabel_unknown_weight
real-data-hidden-unknown-weight: real-data-hidden-labels
	for s in 0 1 2; do \
		$(call RUN_SEED,--sets insects,$(UW)_1_insects,$(HIDE) --config $(VARIANTS_DIR)/relabel_unknown_weight_1.yaml) \
		$(call RUN_SEED,--sets insects,$(UW)_0_insects,$(HIDE) --config $(VARIANTS_DIR)/relabel_unknown_weight_0.yaml) \
		$(call RUN_SEED,--sets insects,$(UW)_0_draw1_insects,--hide-labels 0.75 --hide-seed 1 \
			--config $(VARIANTS_DIR)/relabel_unknown_weight_0.yaml) \
		$(call RUN_SEED,--sets insects,$(UW)_1_draw1_insects,--start-from $(UW)_0_draw1_insects$(SUFFIX) \
			--hide-labels 0.75 --hide-seed 1 --config $(VARIANTS_DIR)/relabel_unknown_weight_1.yaml) \
	done
	$(BIN)/python bench/real_annotated.py --sets insects --out bench/results/real_annotated_hidden_unknown_weight.md --compare \
		"unknown_weight 0.1 (the defaults)=$(call SEEDS_OF,$(HIDDEN)_insects)" \
		"unknown_weight 1=$(call SEEDS_OF,$(UW)_1_insects)" \
		"unknown_weight 0=$(call SEEDS_OF,$(UW)_0_insects)" \
		"unknown_weight 0.1 (the defaults), draw 1=$(call SEEDS_OF,$(HIDDEN)_draw1_insects)" \
		"unknown_weight 0, draw 1=$(call SEEDS_OF,$(UW)_0_draw1_insects)" \
		"unknown_weight 1, draw 1=$(call SEEDS_OF,$(UW)_1_draw1_insects)"

# In a `for s in ...` loop, seed $$s's hidden-label insects runs of variant $(2) (its config) in
# roots $(1)_insects and $(1)_draw1_insects (draws 0 and 1), each copied from the finished run of
# the same seed and draw in $(3)_insects / $(3)_draw1_insects (default: the defaults' runs)
HIDDEN_VARIANT = $(call RUN_SEED,--sets insects,$(1)_insects,--start-from \
	$(or $(3),$(HIDDEN))_insects$(SUFFIX) $(HIDE) --config $(VARIANTS_DIR)/$(2).yaml) \
	$(call RUN_SEED,--sets insects,$(1)_draw1_insects,--start-from \
	$(or $(3),$(HIDDEN))_draw1_insects$(SUFFIX) --hide-labels 0.75 --hide-seed 1 \
	--config $(VARIANTS_DIR)/$(2).yaml)

# The rounds on every fixed window of every train recording (relabel.crops grid) on the
# hidden-label insects, draws 0 and 1, training seeds 0, 1, 2, rounds only (from copies of the
# unknown_weight 0 runs above, whose stage 1 is the defaults'), against the defaults' event
# crops: bench/results/real_annotated_hidden_rounds_grid.md.
GRID = bench/real_runs/hidden_rounds_grid
real-data-hidden-rounds-grid: real-data-hidden-unknown-weight
	for s in 0 1 2; do $(call HIDDEN_VARIANT,$(GRID),hidden_rounds_grid,$(UW)_0) done
	$(BIN)/python bench/real_annotated.py --sets insects --out bench/results/real_annotated_hidden_rounds_grid.md --compare \
		"event crops (the defaults)=$(call SEEDS_OF,$(HIDDEN)_insects)" \
		"every window (relabel.crops grid)=$(call SEEDS_OF,$(GRID)_insects)" \
		"event crops (the defaults), draw 1=$(call SEEDS_OF,$(HIDDEN)_draw1_insects)" \
		"every window (relabel.crops grid), draw 1=$(call SEEDS_OF,$(GRID)_draw1_insects)"

# Four variants on the hidden-label insects, draws 0 and 1, training seeds 0, 1, 2, each from
# copies of the defaults' runs of real-data-hidden-labels (same stage 1; only what a variant
# changes reruns), each decided before its runs: rounds of at least 360 optimiser steps
# (relabel.min_steps 360, the RFCx-shaped benchmark's best mean; the rounds take 90-ish here),
# the submission averaging every stage (ensemble.stages; the ensemble alone reruns), rounds
# without soft targets (relabel.soft_weight 0) and, decided after that one, with soft targets
# weighing 3, then every round at a third of the learning rate (relabel.lr 1e-4):
# bench/results/real_annotated_hidden_variants.md.
HV = bench/real_runs/hidden
real-data-hidden-variants: real-data-hidden-labels
	for s in 0 1 2; do \
		$(call HIDDEN_VARIANT,$(HV)_min_steps_360,relabel_min_steps_360) \
		$(call HIDDEN_VARIANT,$(HV)_ensemble_all_stages,ensemble_all_stages) \
		$(call HIDDEN_VARIANT,$(HV)_soft_weight_0,relabel_soft_weight_0) \
		$(call HIDDEN_VARIANT,$(HV)_soft_weight_3,relabel_soft_weight_3) \
		$(call HIDDEN_VARIANT,$(HV)_lr_1e-4,relabel_lr_1e-4) \
	done
	$(BIN)/python bench/real_annotated.py --sets insects --out bench/results/real_annotated_hidden_variants.md --compare \
		"the defaults=$(call SEEDS_OF,$(HIDDEN)_insects)" \
		"relabel.min_steps 360=$(call SEEDS_OF,$(HV)_min_steps_360_insects)" \
		"every stage averaged=$(call SEEDS_OF,$(HV)_ensemble_all_stages_insects)" \
		"no soft targets=$(call SEEDS_OF,$(HV)_soft_weight_0_insects)" \
		"soft targets x3=$(call SEEDS_OF,$(HV)_soft_weight_3_insects)" \
		"relabel.lr 1e-4=$(call SEEDS_OF,$(HV)_lr_1e-4_insects)" \
		"the defaults, draw 1=$(call SEEDS_OF,$(HIDDEN)_draw1_insects)" \
		"relabel.min_steps 360, draw 1=$(call SEEDS_OF,$(HV)_min_steps_360_draw1_insects)" \
		"every stage averaged, draw 1=$(call SEEDS_OF,$(HV)_ensemble_all_stages_draw1_insects)" \
		"no soft targets, draw 1=$(call SEEDS_OF,$(HV)_soft_weight_0_draw1_insects)" \
		"soft targets x3, draw 1=$(call SEEDS_OF,$(HV)_soft_weight_3_draw1_insects)" \
		"relabel.lr 1e-4, draw 1=$(call SEEDS_OF,$(HV)_lr_1e-4_draw1_insects)"

# Per-class prior scaling of the submission (postprocess.prior_scaling) on real recordings:
# the insects (the one set with several species: on one species it changes nothing) with every
# label (real-data-defaults' 2-thread runs) and with 75 % of the labels hidden, draws 0 and 1
# (real-data-hidden-labels), training seeds 0, 1, 2; nothing is trained, the report reads each
# run's scores.csv (test_lwlrap_prior): bench/results/real_annotated_prior_scaling.md.
real-data-prior-scaling: real-data-defaults real-data-hidden-labels
	$(BIN)/python bench/real_annotated.py --sets insects --out bench/results/real_annotated_prior_scaling.md --compare \
		"every label=bench/real_runs:bench/real_runs/defaults_seed1:bench/real_runs/defaults_seed2" \
		"75 % hidden=$(call SEEDS_OF,$(HIDDEN)_insects)" \
		"75 % hidden, draw 1=$(call SEEDS_OF,$(HIDDEN)_draw1_insects)"

# Choosing the stage to submit from a run's own labels (bench/stage_selection.py, nothing
# trained): each stage's out-of-fold AP against the tp/fp tables the run trained on, next to its
# test score, on the finished runs of the RFCx-shaped quality benchmark's defaults (6 runs: `make
# quality` with its rfcx_shaped config) and of the real-data defaults and hidden-label runs above
# (real-data-defaults, real-data-hidden-labels): bench/results/stage_selection.md.
RQ = bench/quality_runs_rfcx_shaped_defaults/defaults
RUNS_OF = $(1)/$(2):$(1)_seed1/$(2):$(1)_seed2/$(2)
stage-selection: setup
	$(BIN)/python bench/stage_selection.py \
		--group "RFCx-shaped synthetic=$(RQ)/seed0_draw0:$(RQ)/seed0_draw1:$(RQ)/seed1_draw0:$(RQ)/seed1_draw1:$(RQ)/seed2_draw0:$(RQ)/seed2_draw1" \
		--group "piha, every label, 2 threads=bench/real_runs/piha:bench/real_runs/defaults_seed1/piha:bench/real_runs/defaults_seed2/piha" \
		--group "piha, every label, 1 thread=$(call RUNS_OF,$(ONE_THREAD),piha)" \
		--group "piha, 75 % hidden=$(call RUNS_OF,$(HIDDEN),piha)" \
		--group "bobwhite, every label, 2 threads=bench/real_runs/bobwhite:bench/real_runs/defaults_seed1/bobwhite:bench/real_runs/defaults_seed2/bobwhite" \
		--group "bobwhite, every label, 1 thread=$(call RUNS_OF,$(ONE_THREAD),bobwhite)" \
		--group "bobwhite, 75 % hidden=$(call RUNS_OF,$(HIDDEN),bobwhite)" \
		--group "insects, every label, 2 threads=bench/real_runs/insects:bench/real_runs/defaults_seed1/insects:bench/real_runs/defaults_seed2/insects" \
		--group "insects, 75 % hidden=$(call RUNS_OF,$(HIDDEN)_insects,insects)" \
		--group "insects, 75 % hidden (draw 1)=$(call RUNS_OF,$(HIDDEN)_draw1_insects,insects)"

# Rounds without negatives: data.annotated.negatives none on the one-species sets with what the
# defaults resolve to then (variants/no_negatives_weak.yaml: stage 1 on the grid, weak negatives
# of 0.1, rounds on event crops), against the same with the rounds on the grid too
# (variants/no_negatives_weak_rounds_grid.yaml, relabel.crops grid; from copies of the first,
# stage 1 kept), over training seeds 0, 1, 2: bench/results/real_annotated_rounds_grid.md.
NN = bench/real_runs/nn_weak
real-data-rounds-grid: setup
	$(BIN)/python bench/real_data/assemble.py $(REPOS)
	for s in 0 1 2; do \
		$(call RUN_SEED,$(ONE_SPECIES),$(NN),--config $(VARIANTS_DIR)/no_negatives_weak.yaml) \
		$(call RUN_SEED,$(ONE_SPECIES),$(NN)_grid,--start-from $(NN)$(SUFFIX) \
			--config $(VARIANTS_DIR)/no_negatives_weak_rounds_grid.yaml) \
	done
	$(BIN)/python bench/real_annotated.py $(ONE_SPECIES) --out bench/results/real_annotated_rounds_grid.md --compare \
		"rounds on event crops=$(call SEEDS_OF,$(NN))" \
		"rounds on the grid=$(call SEEDS_OF,$(NN)_grid)"
