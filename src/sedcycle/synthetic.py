"""Synthetic data set in the exact RFCx layout, with the hidden truth the real data lacks.

``generate(out_dir)`` writes::

    out_dir/train/{recording_id}.flac   mono, PCM_16, ``sample_rate`` Hz, ``clip_seconds`` long
    out_dir/test/{recording_id}.flac
    out_dir/train_tp.csv                recording_id,species_id,songtype_id,t_min,f_min,t_max,f_max
    out_dir/train_fp.csv                same columns
    out_dir/sample_submission.csv       recording_id,s0,...,s{n-1}   (zeros, sorted ids)
    out_dir/train_truth.csv             recording_id,species_id,t_min,t_max,f_min,f_max
    out_dir/test_truth.csv              same columns (every call present, labelled or not)

Recording ids are 9 lower-case hex characters, like RFCx, and always contain one of ``abcdf`` so
that csv readers never mistake them for numbers (still: read them with ``dtype=str``).

The sound scene of one clip
---------------------------
* Background: coloured noise ``1/f**alpha`` (alpha 0.5..2, pink to brown) plus a white floor,
  band-limited below 14 kHz, at a random level; sometimes rain bursts (broadband noise with
  drop crackle) and insect drones (steady narrowband tones with fast amplitude modulation).
  Rain and drones are never species.
* 0..``max_species_per_clip`` species, each calling 1..``max_calls_per_species`` times; calls of
  one species never overlap each other, calls of different species may. Species are drawn from a
  shuffled deck, so every species comes up once before any comes up a third time (coverage).
* A call's loudness is set by its SNR against the background's power in the call's own band
  (``snr_db``, uniform), so it is visible in a 128-mel log spectrogram at 32 kHz but not trivial.

Species (see :func:`species_catalogue`) come in confusable pairs ``(2k, 2k+1)``: the same shape
(harmonic stack, up sweep, trill, down sweep, chirp train, noisy buzz), similar duration and
repetition, in neighbouring bands (centres ~30 % apart). Pairs of one shape sit far apart in
frequency. Chirp species use songtype 4, all others songtype 1. All energy stays below 14 kHz.

Labels (train only)
-------------------
* tp: sparse, as in RFCx. Every train recording with a call gets one guaranteed tp row: the
  loudest call of its *focal* species, the present species with the fewest tp rows so far (this
  balances tp rows over species like RFCx's ~50 per species); every other call is labelled with
  the probability that makes about ``tp_fraction`` of the recording's calls labelled (never
  fewer than one). A species that is present in train but still unlabelled at the end gets its
  first call labelled, so with ``n_train`` >= ~``n_species / 2`` every species has tp rows.
* ``tp_recording_fraction`` (None: off, the policy above) makes the tp rows RFCx-shaped: only
  ``round(tp_recording_fraction * n_train)`` train recordings (at least 1), a random sample of
  those with a call (all of them when fewer have one), carry tp rows, and ``tp_fraction``
  becomes the share of *all* train calls that get a tp row: each chosen recording gets its
  guaranteed row, and its other calls are labelled with the one probability that brings the
  total to about ``tp_fraction`` of the calls (no more than one row a chosen recording when
  ``tp_fraction * calls`` is below their number). The share of calls left unlabelled is then
  about ``1 - tp_fraction`` whatever the share of tp recordings. The coverage label goes to a
  chosen recording when one holds the species (else one more recording carries a tp row).
* fp: "a template hit for species A that a person rejected". For each call of species B whose
  partner A is absent from the whole recording, an fp row for A at that call's time and frequency
  box is written with probability ``fp_fraction``; in addition Poisson(``fp_per_recording``)
  background false alarms per recording name a species absent from the recording, at a random
  time, with that species' catalogue band. An fp row never names a species present anywhere in
  its recording.
* ``fp_only_recording_fraction`` (None: off) sets how many train recordings carry fp rows but no
  tp row: ``round(fp_only_recording_fraction * n_train)`` of the recordings without a tp row (all
  of them when fewer), a random sample, keep their fp rows, each getting one background false
  alarm when the draws above gave it none; the other recordings without a tp row lose their fp
  rows (no label at all). Recordings with a tp row keep theirs.

Times are rounded to 4 decimals, frequencies outward to the 93.75 Hz grid RFCx uses
(48 kHz / 512-point STFT bins) and clipped to 93.75..13687.5 Hz. Everything is seeded: the same
arguments give byte-identical files.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.fft
import soundfile as sf
from scipy.signal import lfilter

LABEL_COLUMNS = ("recording_id", "species_id", "songtype_id", "t_min", "f_min", "t_max", "f_max")
TRUTH_COLUMNS = ("recording_id", "species_id", "t_min", "t_max", "f_min", "f_max")
CATALOGUE_COLUMNS = (
    "species_id",
    "songtype_id",
    "shape",
    "f_low",
    "f_high",
    "duration",
    "rate",
    "n_harmonics",
    "confusable_with",
)
SHAPES = ("harmonic", "sweep_up", "trill", "sweep_down", "chirp", "buzz")
F_MIN_HZ = 93.75
F_MAX_HZ = 13687.5
FREQ_GRID_HZ = 93.75  # RFCx boxes sit on the 48 kHz / 512-point STFT bin grid
MIN_CALL_SECONDS = 0.3
MAX_CALL_SECONDS = 3.0
MIN_CLIP_SECONDS = 4.0  # longest call plus room to place it
MAX_SPECIES = 96
MIN_SAMPLE_RATE = 32000  # Nyquist must clear the 14 kHz band limit

_BAND_FLOOR_HZ = 300.0  # species bands stay inside [floor, ceiling]
_BAND_CEILING_HZ = 13000.0
_LOWPASS_HZ = (13500.0, 14000.0)  # cosine roll-off of all background noise
_VIBRATO_DEPTH = 0.015  # relative f0 wobble of harmonic stacks
_PAIR_RATIO = 1.3  # centre-frequency ratio of confusable partners
_SLOT_CENTRES_HZ = (800.0, 9000.0)  # geometric range of the pair centres
# extra SNR for shapes whose energy is spread thin over the spectrogram's pixels (noise bands,
# short elements, pulses), so that equal ``snr_db`` means roughly equal visibility
_SHAPE_EXTRA_DB = {"buzz": 6.0, "chirp": 3.0, "trill": 2.0, "harmonic": 2.0}

# shape -> (f_high / f_low span or None, species duration range s, rate range Hz).
# rate means: harmonic = vibrato, trill = pulses/s, chirp = elements/s, buzz = AM rate.
_SHAPE_DESIGN = {
    "harmonic": (None, (0.8, 1.6), (4.0, 8.0)),
    "sweep_up": (1.6, (0.6, 1.4), (0.0, 0.0)),
    "trill": (1.2, (1.5, 2.6), (6.0, 14.0)),
    "sweep_down": (1.6, (0.6, 1.4), (0.0, 0.0)),
    "chirp": (1.5, (0.3, 0.55), (7.0, 12.0)),
    "buzz": (1.35, (1.0, 2.5), (40.0, 80.0)),
}


@dataclass(frozen=True)
class _Call:
    """One call of one species: sample span and frequency box (Hz) in its recording."""

    species_id: int
    start: int  # first sample
    n_samples: int
    f_low: float
    f_high: float
    snr_db: float


# ---------------------------------------------------------------------------------------------
# argument checks


def _check_int(name: str, value, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")


def _check_float(name: str, value, low: float, high: float, *, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < low or value > high or (low_open and value == low):
        left = "(" if low_open else "["
        raise ValueError(f"{name} must be in {left}{low}, {high}], got {value}")


# ---------------------------------------------------------------------------------------------
# species design


def species_catalogue(n_species: int = 24, seed: int = 0) -> pd.DataFrame:
    """The species design: one row per species, ``n_species`` rows.

    Columns: species_id (0..n-1), songtype_id (1, or 4 for chirps), shape (one of ``SHAPES``),
    f_low/f_high (Hz, the call's frequency box), duration (s, typical call length), rate (Hz;
    vibrato / pulse / element / AM rate depending on shape, 0 for sweeps), n_harmonics (harmonic
    stacks, else 1), confusable_with (partner species id, -1 for an unpaired last species).
    """
    _check_int("n_species", n_species, 1, MAX_SPECIES)
    _check_int("seed", seed, 0)
    rng = np.random.default_rng([seed, 0])
    n_slots = (n_species + 1) // 2
    if n_slots > 1:
        centres = np.geomspace(*_SLOT_CENTRES_HZ, n_slots)
    else:
        centres = np.array([math.sqrt(_SLOT_CENTRES_HZ[0] * _SLOT_CENTRES_HZ[1])])
    rows = []
    for slot, centre in enumerate(centres):
        shape = SHAPES[slot % len(SHAPES)]
        span, duration_range, rate_range = _SHAPE_DESIGN[shape]
        ratio = math.sqrt(_PAIR_RATIO * rng.uniform(0.95, 1.05))
        pair_duration = rng.uniform(*duration_range)
        pair_rate = rng.uniform(*rate_range)
        for member, member_centre in enumerate((centre / ratio, centre * ratio)):
            species_id = 2 * slot + member
            if species_id >= n_species:
                break
            middle = member_centre * rng.uniform(0.97, 1.03)
            if shape == "harmonic":
                n_harmonics = 3
                wobble = (1 + _VIBRATO_DEPTH) / (1 - _VIBRATO_DEPTH)
                f_low = middle / math.sqrt(n_harmonics * wobble)
                f_high = f_low * n_harmonics * wobble
            else:
                n_harmonics = 1
                half_span = math.sqrt(span * rng.uniform(0.95, 1.05))
                f_low, f_high = middle / half_span, middle * half_span
            # keep the box inside the band limits without changing its shape
            scale = min(1.0, _BAND_CEILING_HZ / f_high) * max(1.0, _BAND_FLOOR_HZ / f_low)
            # the partner differs a little in timing too, so the pair is confusable, not identical
            timing = 1.0 if member == 0 else rng.uniform(0.85, 1.15)
            partner = species_id ^ 1
            rows.append(
                {
                    "species_id": species_id,
                    "songtype_id": 4 if shape == "chirp" else 1,
                    "shape": shape,
                    "f_low": round(f_low * scale, 2),
                    "f_high": round(f_high * scale, 2),
                    "duration": round(float(np.clip(pair_duration * timing, 0.3, 2.7)), 3),
                    "rate": round(pair_rate * timing, 3),
                    "n_harmonics": n_harmonics,
                    "confusable_with": partner if partner < n_species else -1,
                }
            )
    return pd.DataFrame(rows, columns=list(CATALOGUE_COLUMNS))


# ---------------------------------------------------------------------------------------------
# scene planning


class _SpeciesDeck:
    """Deals species from a shuffled deck so that all species come up before any repeats."""

    def __init__(self, n_species: int, rng: np.random.Generator):
        self.n_species, self.rng, self.cards = n_species, rng, []

    def draw(self, k: int) -> list[int]:
        chosen: list[int] = []
        held: list[int] = []
        while len(chosen) < k:
            if not self.cards:
                self.cards = self.rng.permutation(self.n_species).tolist()
            card = self.cards.pop()
            (held if card in chosen else chosen).append(card)
        self.cards.extend(held)  # a card already in this clip is dealt to the next clip
        return sorted(chosen)


def _recording_ids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct 9-hex-character ids, each with a letter in abcdf (never numeric)."""
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < n:
        candidate = f"{int(rng.integers(0, 16**9)):09x}"
        if candidate not in seen and any(c in "abcdf" for c in candidate):
            seen.add(candidate)
            ids.append(candidate)
    return ids


def _plan_clip(
    rng: np.random.Generator,
    catalogue: pd.DataFrame,
    species: list[int],
    clip_seconds: float,
    sample_rate: int,
    max_calls: int,
    snr_db: tuple[float, float],
) -> list[_Call]:
    """Calls of ``species`` in one clip: each species' calls sit in separate equal segments."""
    calls = []
    n_total = int(round(clip_seconds * sample_rate))
    for species_id in species:
        row = catalogue.iloc[species_id]
        n_calls = int(rng.integers(1, max_calls + 1))
        durations = np.clip(
            row["duration"] * rng.uniform(0.9, 1.1, n_calls), MIN_CALL_SECONDS, MAX_CALL_SECONDS
        )
        while n_calls > 1 and durations[:n_calls].max() > clip_seconds / n_calls:
            n_calls -= 1  # short clips: fewer calls so the segments still hold them
        segment = clip_seconds / n_calls
        for index, duration in enumerate(durations[:n_calls]):
            t_start = index * segment + rng.uniform(0.0, segment - duration)
            shift = rng.uniform(0.97, 1.03)  # individual pitch variation
            # floors keep start + n_samples inside the segment: same-species calls never overlap
            start = math.floor(t_start * sample_rate)
            n_samples = math.floor(duration * sample_rate)
            start = min(start, n_total - n_samples)
            calls.append(
                _Call(
                    species_id=int(species_id),
                    start=start,
                    n_samples=n_samples,
                    f_low=float(row["f_low"] * shift),
                    f_high=float(row["f_high"] * shift),
                    snr_db=float(rng.uniform(*snr_db)),
                )
            )
    return calls


# ---------------------------------------------------------------------------------------------
# audio synthesis


def _fade(n: int, n_fade: int) -> np.ndarray:
    """Envelope [n]: raised-cosine ramps of ``n_fade`` samples at both ends, 1 in between."""
    envelope = np.ones(n)
    n_fade = max(1, min(n_fade, n // 2))
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n_fade) + 0.5) / n_fade)
    envelope[:n_fade] = ramp
    envelope[n - n_fade :] = ramp[::-1]
    return envelope


def _elements(n: int, sample_rate: int, rate: float, duty: float) -> tuple[np.ndarray, np.ndarray]:
    """Position inside repeated elements: u [n] in 0..1 while sounding, and the sounding mask.

    The call holds a whole number (>= 2) of element periods, each sounding for ``duty`` of it.
    """
    n_elements = max(2, int(round(n / sample_rate * rate)))
    period = n / n_elements
    u = (np.arange(n) % period) / (duty * period)
    return np.minimum(u, 1.0), u < 1.0


def _synth_call(
    shape: str, call: _Call, rate: float, n_harmonics: int, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """Waveform [call.n_samples] of one call, unit RMS, energy inside [f_low, f_high]."""
    n, f_low, f_high = call.n_samples, call.f_low, call.f_high
    t = np.arange(n) / sr
    phase0 = rng.uniform(0, 2 * np.pi)
    if shape in ("sweep_up", "sweep_down"):
        progress = t / t[-1] if n > 1 else t
        if shape == "sweep_down":
            progress = 1.0 - progress
        frequency = f_low * (f_high / f_low) ** progress  # exponential sweep
        wave = np.sin(phase0 + 2 * np.pi * np.cumsum(frequency) / sr)
    elif shape == "trill":
        u, sounding = _elements(n, sr, rate, duty=0.6)
        frequency = f_high - (f_high - f_low) * u  # each pulse a short down-slur
        wave = np.sin(phase0 + 2 * np.pi * np.cumsum(frequency) / sr)
        wave *= np.where(sounding, np.sin(np.pi * u) ** 2, 0.0)
    elif shape == "chirp":
        u, sounding = _elements(n, sr, rate, duty=0.5)
        frequency = f_low + (f_high - f_low) * np.sin(np.pi * u)  # rise-and-fall element
        wave = np.sin(phase0 + 2 * np.pi * np.cumsum(frequency) / sr)
        wave *= np.where(sounding, np.sin(np.pi * u), 0.0)
    elif shape == "harmonic":
        f0_mean = f_low / (1 - _VIBRATO_DEPTH)
        f0 = f0_mean * (1 + _VIBRATO_DEPTH * np.sin(2 * np.pi * rate * t + phase0))
        phase = 2 * np.pi * np.cumsum(f0) / sr
        orders = np.arange(1, n_harmonics + 1)[:, None]
        wave = ((1.0 / orders**0.7) * np.sin(orders * phase)).sum(axis=0)
    elif shape == "buzz":
        n_fft = scipy.fft.next_fast_len(n, real=True)  # call lengths can be prime: pad
        freqs = np.fft.rfftfreq(n_fft, 1 / sr)
        band = _band_mask(freqs, f_low, f_high, edge=0.05 * (f_high - f_low))
        white = rng.standard_normal(2 * freqs.size).view(np.complex128)
        wave = scipy.fft.irfft(band * white, n_fft)[:n]
        wave *= 1.0 - 0.8 * (0.5 + 0.5 * np.sin(2 * np.pi * rate * t))  # buzzing AM
    else:
        raise ValueError(f"unknown call shape {shape!r}")
    wave *= _fade(n, int(min(0.1 * n, 0.05 * sr)))
    return wave / (_rms(wave) + 1e-12)


def _sine(cycles_per_sample: float, phase_cycles: float, samples: np.ndarray) -> np.ndarray:
    """float32 sin(2 pi (f k + phase)) over sample indices, wrapped to one cycle first (exact)."""
    cycles = np.mod(samples * cycles_per_sample + phase_cycles, 1.0)
    return np.sin(np.float32(2 * np.pi) * cycles.astype(np.float32))


def _rms(wave: np.ndarray) -> float:
    """Root mean square, accumulated in float64 (pairwise sum: deterministic, no BLAS)."""
    return math.sqrt(float(np.mean(np.square(wave), dtype=np.float64)))


def _band_mask(freqs: np.ndarray, f_low: float, f_high: float, edge: float) -> np.ndarray:
    """Gain [len(freqs)]: 1 inside [f_low, f_high], raised-cosine edges ``edge`` Hz wide inside."""
    rise = np.clip((freqs - f_low) / edge, 0.0, 1.0)
    fall = np.clip((f_high - freqs) / edge, 0.0, 1.0)
    return (0.5 - 0.5 * np.cos(np.pi * rise)) * (0.5 - 0.5 * np.cos(np.pi * fall))


@dataclass(frozen=True)
class _NoiseShapes:
    """Spectral shapes shared by every clip of one length: rfft bins [n_total // 2 + 1]."""

    n_total: int
    sample_rate: int
    freqs: np.ndarray  # Hz, float64
    lowpass: np.ndarray  # 1 below 13.5 kHz, cosine roll-off to 0 at 14 kHz, float32
    rain: np.ndarray  # rain colour (300 Hz high-pass, gentle tilt, lowpass), unit gain, float32
    log_freq: np.ndarray  # ln(max(f, 100 Hz) / 1 kHz), float32: 1/f**alpha = exp(-alpha * log_freq)

    @classmethod
    def build(cls, n_total: int, sample_rate: int) -> _NoiseShapes:
        freqs = np.fft.rfftfreq(n_total, 1 / sample_rate)
        lo, hi = _LOWPASS_HZ
        lowpass = 0.5 + 0.5 * np.cos(np.pi * np.clip((freqs - lo) / (hi - lo), 0.0, 1.0))
        tilt = (np.maximum(freqs, 1000.0) / 1000.0) ** -0.25
        rain = tilt * _band_mask(freqs, 300.0, sample_rate / 2, edge=200.0) * lowpass
        rain /= np.sqrt(2.0 * np.sum(rain**2) / n_total)  # unit-variance white in -> unit RMS out
        log_freq = np.log(np.maximum(freqs, 100.0) / 1000.0)
        return cls(
            n_total,
            sample_rate,
            freqs,
            lowpass.astype(np.float32),
            rain.astype(np.float32),
            log_freq.astype(np.float32),
        )

    def noise(self, colour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Complex64 spectrum [n_bins]: Gaussian white noise shaped by ``colour``, no DC."""
        n_bins = self.freqs.size
        white = rng.standard_normal(2 * n_bins, dtype=np.float32).view(np.complex64)
        spectrum = white * colour
        spectrum[0] = 0.0
        return spectrum


def _render_clip(
    calls: list[_Call],
    catalogue: pd.DataFrame,
    shapes: _NoiseShapes,
    rain_probability: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Waveform [n_total] float32 in -1..1: background + rain + drones + calls."""
    sr, n_total, freqs = shapes.sample_rate, shapes.n_total, shapes.freqs
    clip_seconds = n_total / sr

    # coloured background, scaled to unit RMS; its band powers set every other level
    alpha = rng.uniform(0.5, 2.0)
    floor = 10 ** (rng.uniform(-35.0, -20.0) / 20)
    colour = np.exp(shapes.log_freq * np.float32(-alpha / 2)) + np.float32(floor)
    background = shapes.noise(colour * shapes.lowpass, rng)
    bin_power = np.square(np.abs(background), dtype=np.float64)  # Parseval: power per bin
    cumulative = np.concatenate([[0.0], np.cumsum(bin_power)]) / bin_power.sum()
    mix = scipy.fft.irfft(background, n_total)
    mix /= np.float32(_rms(mix))

    def band_power(f_low: float, f_high: float) -> float:
        """Share of the (unit) background power between f_low and f_high."""
        lo = np.searchsorted(freqs, f_low, side="left")
        hi = np.searchsorted(freqs, f_high, side="right")
        return max(cumulative[hi] - cumulative[lo], 1e-12)

    if rng.random() < rain_probability:
        envelope = np.zeros(n_total, dtype=np.float32)
        for _ in range(int(rng.integers(1, 4))):
            seconds = min(rng.uniform(2.0, 10.0), clip_seconds)
            first = int(rng.uniform(0.0, clip_seconds - seconds) * sr)
            length = int(seconds * sr)
            burst = 10 ** (rng.uniform(-8.0, 4.0) / 20) * _fade(length, int(0.5 * sr))
            envelope[first : first + length] = np.maximum(envelope[first : first + length], burst)
        drops = np.zeros(n_total)
        n_drops = int(rng.poisson(40.0 * clip_seconds))
        drops[rng.integers(0, n_total, n_drops)] = rng.exponential(1.0, n_drops)
        crackle = lfilter([1.0], [1.0, -math.exp(-1.0 / (0.004 * sr))], drops)  # 4 ms decays
        crackle = (1.0 + 0.5 * crackle / (crackle.std() + 1e-12)).astype(np.float32)
        # modulate white noise, then colour it: the drop clicks stay below the 14 kHz limit
        rain = rng.standard_normal(n_total, dtype=np.float32) * envelope * crackle
        mix += scipy.fft.irfft(scipy.fft.rfft(rain) * shapes.rain, n_total)

    for _ in range(int(rng.choice(3, p=[0.4, 0.4, 0.2]))):  # insect drones
        frequency = rng.uniform(2500.0, 12500.0)
        length = int(rng.uniform(0.3, 1.0) * n_total)
        first = int(rng.integers(0, n_total - length + 1))
        depth, am_rate = rng.uniform(0.3, 0.8), rng.uniform(15.0, 60.0)
        samples = np.arange(length)
        tone = _sine(frequency / sr, rng.uniform(0.0, 1.0), samples)
        tone *= 1.0 - depth * (0.5 + 0.5 * _sine(am_rate / sr, 0.0, samples))
        tone *= _fade(length, int(0.5 * sr))
        level = band_power(frequency - 150.0, frequency + 150.0) * 10 ** (rng.uniform(8, 20) / 10)
        mix[first : first + length] += math.sqrt(level) * tone / _rms(tone)

    for call in calls:
        row = catalogue.iloc[call.species_id]
        shape = row["shape"]
        wave = _synth_call(shape, call, row["rate"], int(row["n_harmonics"]), sr, rng)
        snr_db = call.snr_db + _SHAPE_EXTRA_DB.get(shape, 0.0)
        amplitude = math.sqrt(band_power(call.f_low, call.f_high) * 10 ** (snr_db / 10))
        mix[call.start : call.start + call.n_samples] += amplitude * wave

    mix *= 10 ** (rng.uniform(-42.0, -28.0) / 20)  # random recording level
    peak = float(np.abs(mix).max())
    if peak > 0.9:
        mix *= 0.9 / peak
    return mix.astype(np.float32, copy=False)


# ---------------------------------------------------------------------------------------------
# tables


def _truth_table(
    plans: dict[str, list[_Call]], ids: list[str], sample_rate: int, clip_seconds: float
) -> pd.DataFrame:
    """Every planned call of ``ids`` as a truth row (rounded like the csv files).

    Carries an extra ``snr_db`` column for labelling; it is dropped before writing.
    """
    rows = []
    for recording_id in ids:
        for call in plans[recording_id]:
            rows.append(
                {
                    "recording_id": recording_id,
                    "species_id": call.species_id,
                    "t_min": _round_time(call.start / sample_rate, clip_seconds),
                    "t_max": _round_time((call.start + call.n_samples) / sample_rate, clip_seconds),
                    "f_min": _grid_down(call.f_low),
                    "f_max": _grid_up(call.f_high),
                    "snr_db": call.snr_db,
                }
            )
    table = pd.DataFrame(rows, columns=[*TRUTH_COLUMNS, "snr_db"])
    return _sorted(table.astype({"species_id": np.int64}), ["recording_id", "t_min", "species_id"])


def _round_time(seconds: float, clip_seconds: float) -> float:
    return round(min(max(seconds, 0.0), clip_seconds), 4)


def _grid_down(hz: float) -> float:
    return float(min(max(math.floor(hz / FREQ_GRID_HZ) * FREQ_GRID_HZ, F_MIN_HZ), F_MAX_HZ))


def _grid_up(hz: float) -> float:
    return float(min(max(math.ceil(hz / FREQ_GRID_HZ) * FREQ_GRID_HZ, F_MIN_HZ), F_MAX_HZ))


def _sorted(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return table.sort_values(keys, kind="stable").reset_index(drop=True)


def _label_tp(
    truth: pd.DataFrame,
    train_ids: list[str],
    catalogue: pd.DataFrame,
    tp_fraction: float,
    rng: np.random.Generator,
    tp_ids: set[str] | None = None,
) -> pd.DataFrame:
    """Sparse tp rows: a subset of ``truth`` rows (see the module docstring for the policy).

    ``tp_ids``: the recordings that carry tp rows, and ``tp_fraction`` a share of all calls
    (``tp_recording_fraction``); None: every recording with a call, ``tp_fraction`` of each.
    """
    n_species = len(catalogue)
    tp_count = np.zeros(n_species, dtype=np.int64)
    labelled = np.zeros(len(truth), dtype=bool)
    by_recording = truth.groupby("recording_id", sort=False).indices
    in_tp = np.ones(len(truth), dtype=bool)
    p_shared = None
    if tp_ids is not None:
        in_tp = truth["recording_id"].isin(tp_ids).to_numpy()
        n_guaranteed = len(tp_ids)
        n_others = int(in_tp.sum()) - n_guaranteed
        wanted = tp_fraction * len(truth) - n_guaranteed
        p_shared = min(max(wanted / n_others, 0.0), 1.0) if n_others > 0 else 0.0
    for recording_id in train_ids:
        rows = by_recording.get(recording_id)
        if rows is None or (tp_ids is not None and recording_id not in tp_ids):
            continue
        species = truth["species_id"].to_numpy()[rows]
        present = np.unique(species)
        present = present[rng.permutation(present.size)]  # random tie break
        focal = present[np.argmin(tp_count[present])]
        focal_rows = rows[species == focal]
        # the guaranteed label is the focal species' loudest call: people verify what stands out
        chosen = focal_rows[np.argmax(truth["snr_db"].to_numpy()[focal_rows])]
        labelled[chosen] = True
        others = rows[rows != chosen]
        if others.size:
            # probability that brings the expected labelled share to tp_fraction (>= one row)
            p_other = min(max((tp_fraction * rows.size - 1.0) / others.size, 0.0), 1.0)
            if p_shared is not None:
                p_other = p_shared  # the share is of all calls, spread over the tp recordings
            labelled[others[rng.random(others.size) < p_other]] = True
        np.add.at(tp_count, truth["species_id"].to_numpy()[rows[labelled[rows]]], 1)
    for species_id in np.flatnonzero(tp_count == 0):  # coverage: present but never labelled
        rows = np.flatnonzero(truth["species_id"].to_numpy() == species_id)
        if rows.size:
            # in a recording that carries tp rows when one holds the species
            preferred = rows[in_tp[rows]]
            labelled[preferred[0] if preferred.size else rows[0]] = True
    tp = truth.loc[labelled].copy()
    tp["songtype_id"] = catalogue["songtype_id"].to_numpy()[tp["species_id"].to_numpy()]
    return _sorted(tp[list(LABEL_COLUMNS)], ["recording_id", "species_id", "t_min"])


def _label_fp(
    truth: pd.DataFrame,
    train_ids: list[str],
    catalogue: pd.DataFrame,
    fp_fraction: float,
    fp_per_recording: float,
    clip_seconds: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """fp rows: partner confusions plus background false alarms, species always absent."""
    n_species = len(catalogue)
    partners = catalogue["confusable_with"].to_numpy()
    songtypes = catalogue["songtype_id"].to_numpy()
    by_recording = truth.groupby("recording_id", sort=False).indices
    rows = []
    for recording_id in train_ids:
        calls = truth.iloc[by_recording.get(recording_id, np.array([], dtype=np.int64))]
        present = set(calls["species_id"].tolist())
        for call in calls.itertuples(index=False):
            partner = int(partners[call.species_id])
            if partner >= 0 and partner not in present and rng.random() < fp_fraction:
                rows.append(
                    (recording_id, partner, int(songtypes[partner]), call.t_min, call.f_min)
                    + (call.t_max, call.f_max)
                )
        absent = np.array([s for s in range(n_species) if s not in present], dtype=np.int64)
        n_alarms = int(rng.poisson(fp_per_recording))
        if absent.size == 0:
            continue
        for species_id in rng.choice(absent, size=n_alarms):
            rows.append(_false_alarm(recording_id, int(species_id), catalogue, clip_seconds, rng))
    return _fp_table(rows)


def _false_alarm(
    recording_id: str,
    species_id: int,
    catalogue: pd.DataFrame,
    clip_seconds: float,
    rng: np.random.Generator,
) -> tuple:
    """A background false alarm: an fp row for ``species_id`` at a random time, in its band."""
    entry = catalogue.iloc[species_id]
    duration = float(entry["duration"])
    t_min = rng.uniform(0.0, clip_seconds - duration)
    return (
        recording_id,
        species_id,
        int(entry["songtype_id"]),
        _round_time(t_min, clip_seconds),
        _grid_down(float(entry["f_low"])),
        _round_time(t_min + duration, clip_seconds),
        _grid_up(float(entry["f_high"])),
    )


def _fp_table(rows: list[tuple]) -> pd.DataFrame:
    fp = pd.DataFrame(rows, columns=list(LABEL_COLUMNS))
    fp = fp.astype({"species_id": np.int64, "songtype_id": np.int64})
    return _sorted(fp, ["recording_id", "species_id", "t_min"])


def _fp_only_recordings(
    fp: pd.DataFrame,
    truth: pd.DataFrame,
    train_ids: list[str],
    tp_ids: set[str],
    n_fp_only: int,
    catalogue: pd.DataFrame,
    clip_seconds: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """``fp`` with exactly ``n_fp_only`` recordings (fewer when fewer lack a tp row) that carry
    fp rows but no tp row: a random sample of the recordings without a tp row keeps its fp rows
    (one background false alarm added where it has none), the rest lose theirs."""
    untagged = [r for r in train_ids if r not in tp_ids]
    chosen = set(rng.choice(untagged, size=min(n_fp_only, len(untagged)), replace=False).tolist())
    keep = fp["recording_id"].isin(tp_ids | chosen).to_numpy()
    with_fp = set(fp["recording_id"])
    present = truth.groupby("recording_id")["species_id"].agg(set).to_dict()
    added = []
    for recording_id in sorted(chosen - with_fp):
        calling = present.get(recording_id, set())
        absent = [s for s in range(len(catalogue)) if s not in calling]
        if absent:
            species_id = int(rng.choice(absent))
            added.append(_false_alarm(recording_id, species_id, catalogue, clip_seconds, rng))
    kept = list(fp.loc[keep].itertuples(index=False, name=None))
    return _fp_table(kept + added)


# ---------------------------------------------------------------------------------------------
# writing


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    """Write ``table`` to ``path`` via a temporary name (no half-written csv on failure)."""
    temporary = path.with_name(path.name + ".tmp")
    table.to_csv(temporary, index=False, lineterminator="\n")
    os.replace(temporary, path)


def _write_flac(wave: np.ndarray, path: Path, sample_rate: int) -> None:
    """Write mono PCM_16 FLAC via a temporary name (not matching ``*.flac``)."""
    temporary = path.with_name(path.name + ".tmp")
    sf.write(temporary, wave, sample_rate, format="FLAC", subtype="PCM_16")
    os.replace(temporary, path)


def _prepare_folder(folder: Path, keep: set[str], clean: bool) -> None:
    """Create ``folder``; stale ``*.flac`` not in ``keep`` are removed (clean) or refused."""
    folder.mkdir(parents=True, exist_ok=True)
    stale = sorted(p for p in folder.glob("*.flac") if p.stem not in keep)
    if stale and not clean:
        raise ValueError(
            f"{folder} holds {len(stale)} .flac file(s) this data set would not write "
            f"(e.g. {stale[0].name}); remove them or pass clean=True"
        )
    for path in stale:
        path.unlink()


@dataclass(frozen=True)
class _Draw:
    """What ``generate`` renders and writes: the species, each recording's calls, the tables."""

    catalogue: pd.DataFrame
    plans: dict[str, list[_Call]]
    ids: list[str]  # in drawing order (the clips' random streams follow it)
    tables: dict


def draw_labels(**settings) -> dict:
    """The ids and tables ``generate(**settings)`` writes, without rendering audio (label
    statistics of a large draw in seconds): ``train_ids`` and ``test_ids`` (lists) and the
    DataFrames ``train_tp``, ``train_fp``, ``train_truth``, ``test_truth``. ``settings``: the
    keyword arguments of ``generate`` but ``clean`` and ``n_jobs``; the same defaults."""
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(generate).parameters.items()
        if parameter.kind is parameter.KEYWORD_ONLY and name not in ("clean", "n_jobs")
    }
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise ValueError(f"draw_labels takes generate's label settings, not {unknown}")
    tables = dict(_draw(**{**defaults, **settings}).tables)
    for name in ("train_truth", "test_truth"):
        tables[name] = tables[name][list(TRUTH_COLUMNS)]
    return tables


def _draw(
    *,
    n_train: int,
    n_test: int,
    clip_seconds: float,
    n_species: int,
    sample_rate: int,
    seed: int,
    tp_fraction: float,
    fp_fraction: float,
    fp_per_recording: float,
    max_species_per_clip: int,
    max_calls_per_species: int,
    snr_db: tuple[float, float],
    rain_probability: float,
    tp_recording_fraction: float | None,
    fp_only_recording_fraction: float | None,
) -> _Draw:
    """Check the arguments, then plan every clip and label the train ones (see ``generate``)."""
    _check_int("n_train", n_train, 1)
    _check_int("n_test", n_test, 1)
    _check_float("clip_seconds", clip_seconds, MIN_CLIP_SECONDS, 3600.0)
    _check_int("n_species", n_species, 1, MAX_SPECIES)
    _check_int("sample_rate", sample_rate, MIN_SAMPLE_RATE, 384000)
    _check_int("seed", seed, 0)
    _check_float("tp_fraction", tp_fraction, 0.0, 1.0, low_open=True)
    _check_float("fp_fraction", fp_fraction, 0.0, 1.0)
    _check_float("fp_per_recording", fp_per_recording, 0.0, 100.0)
    _check_int("max_species_per_clip", max_species_per_clip, 0, n_species)
    _check_int("max_calls_per_species", max_calls_per_species, 1, 100)
    _check_float("rain_probability", rain_probability, 0.0, 1.0)
    if tp_recording_fraction is not None:
        _check_float("tp_recording_fraction", tp_recording_fraction, 0.0, 1.0, low_open=True)
    if fp_only_recording_fraction is not None:
        _check_float("fp_only_recording_fraction", fp_only_recording_fraction, 0.0, 1.0)
    if (
        tp_recording_fraction is not None
        and fp_only_recording_fraction is not None
        and tp_recording_fraction + fp_only_recording_fraction > 1.0
    ):
        raise ValueError(
            "tp_recording_fraction + fp_only_recording_fraction must not exceed 1 (shares of "
            f"the same train recordings), got {tp_recording_fraction} + "
            f"{fp_only_recording_fraction}"
        )
    if not isinstance(snr_db, (tuple, list)) or len(snr_db) != 2:
        raise ValueError(f"snr_db must be a (low, high) pair, got {snr_db!r}")
    for bound in snr_db:
        _check_float("snr_db", bound, -40.0, 60.0)
    if snr_db[0] > snr_db[1]:
        raise ValueError(f"snr_db low must not exceed high, got {tuple(snr_db)}")
    snr_range = (float(snr_db[0]), float(snr_db[1]))

    catalogue = species_catalogue(n_species, seed)
    plan_rng = np.random.default_rng([seed, 1])
    ids = _recording_ids(plan_rng, n_train + n_test)
    train_ids, test_ids = sorted(ids[:n_train]), sorted(ids[n_train:])

    # how many species call in a clip: 0 is half as likely as each of 1..max
    weights = np.array([0.5] + [1.0] * max_species_per_clip)
    deck = _SpeciesDeck(n_species, plan_rng)
    plans = {}
    for recording_id in train_ids + test_ids:
        k = int(plan_rng.choice(weights.size, p=weights / weights.sum()))
        plans[recording_id] = _plan_clip(
            plan_rng,
            catalogue,
            deck.draw(k),
            clip_seconds,
            sample_rate,
            max_calls_per_species,
            snr_range,
        )

    train_truth = _truth_table(plans, train_ids, sample_rate, clip_seconds)
    test_truth = _truth_table(plans, test_ids, sample_rate, clip_seconds)
    label_rng = np.random.default_rng([seed, 3])
    share_rng = np.random.default_rng([seed, 4])  # only the share options draw from it
    tp_ids = None
    if tp_recording_fraction is not None:
        calling = [r for r in train_ids if plans[r]]
        n_tp = min(max(1, round(tp_recording_fraction * n_train)), len(calling))
        tp_ids = set(share_rng.choice(calling, size=n_tp, replace=False).tolist())
    tp = _label_tp(train_truth, train_ids, catalogue, tp_fraction, label_rng, tp_ids)
    fp = _label_fp(
        train_truth, train_ids, catalogue, fp_fraction, fp_per_recording, clip_seconds, label_rng
    )
    if fp_only_recording_fraction is not None:
        fp = _fp_only_recordings(
            fp,
            train_truth,
            train_ids,
            set(tp["recording_id"]),
            round(fp_only_recording_fraction * n_train),
            catalogue,
            clip_seconds,
            share_rng,
        )

    tables = {
        "train_ids": train_ids,
        "test_ids": test_ids,
        "train_tp": tp,
        "train_fp": fp,
        "train_truth": train_truth,
        "test_truth": test_truth,
    }
    return _Draw(catalogue, plans, ids, tables)


def label_statistics(source: Path | str | dict) -> dict[str, float]:
    """The train labels' statistics of a data set: ``source`` is a folder ``generate`` wrote or
    the tables of ``draw_labels``. Recordings, those with a call, with a tp row, with fp rows
    only and with no label; calls (the train truth), tp and fp rows, the share of calls no tp
    row labels, fp rows per tp row.
    """
    if isinstance(source, dict):
        recordings = set(source["train_ids"])
        tp, fp, truth = source["train_tp"], source["train_fp"], source["train_truth"]
    else:
        data_dir = Path(source)
        recordings = {path.stem for path in (data_dir / "train").glob("*.flac")}
        tp, fp, truth = (
            pd.read_csv(data_dir / f"{name}.csv", dtype={"recording_id": str})
            for name in ("train_tp", "train_fp", "train_truth")
        )
    with_tp, with_fp = set(tp["recording_id"]), set(fp["recording_id"])
    keys = ["recording_id", "species_id", "t_min", "t_max"]
    labelled = truth.merge(tp[keys].drop_duplicates(), on=keys, how="inner")
    return {
        "recordings": len(recordings),
        "recordings_with_tp": len(with_tp),
        "recordings_fp_only": len(with_fp - with_tp),
        "recordings_unlabelled": len(recordings - with_tp - with_fp),
        "recordings_with_calls": truth["recording_id"].nunique(),
        "calls": len(truth),
        "tp_rows": len(tp),
        "fp_rows": len(fp),
        "unlabelled_call_share": 1.0 - len(labelled) / len(truth) if len(truth) else 0.0,
        "fp_rows_per_tp_row": len(fp) / len(tp) if len(tp) else float("nan"),
    }


def generate(
    out_dir: Path | str,
    *,
    n_train: int = 60,
    n_test: int = 20,
    clip_seconds: float = 60.0,
    n_species: int = 24,
    sample_rate: int = 48000,
    seed: int = 0,
    tp_fraction: float = 0.35,
    fp_fraction: float = 0.4,
    fp_per_recording: float = 0.5,
    max_species_per_clip: int = 4,
    max_calls_per_species: int = 4,
    snr_db: tuple[float, float] = (0.0, 12.0),
    rain_probability: float = 0.3,
    clean: bool = False,
    n_jobs: int = 1,
    tp_recording_fraction: float | None = None,
    fp_only_recording_fraction: float | None = None,
) -> None:
    """Write a synthetic RFCx-layout data set with hidden truth to ``out_dir``.

    Layout, scene and label policy: see the module docstring. ``snr_db`` is the (low, high)
    range of a call's power over the background's power in the call's band. ``clean=True``
    deletes ``*.flac`` files in ``out_dir/train`` and ``out_dir/test`` that this data set does
    not contain; otherwise their presence raises ValueError (a mixed folder would corrupt the
    data set). ``n_jobs`` threads render clips in parallel; the bytes do not depend on it.
    ``tp_recording_fraction`` and ``fp_only_recording_fraction`` (None: off) set the share of
    train recordings that carry tp rows and that carry fp rows only (module docstring); the two
    add up to at most 1. Same arguments -> byte-identical files.
    """
    _check_int("n_jobs", n_jobs, 1, 256)
    draw = _draw(
        n_train=n_train,
        n_test=n_test,
        clip_seconds=clip_seconds,
        n_species=n_species,
        sample_rate=sample_rate,
        seed=seed,
        tp_fraction=tp_fraction,
        fp_fraction=fp_fraction,
        fp_per_recording=fp_per_recording,
        max_species_per_clip=max_species_per_clip,
        max_calls_per_species=max_calls_per_species,
        snr_db=snr_db,
        rain_probability=rain_probability,
        tp_recording_fraction=tp_recording_fraction,
        fp_only_recording_fraction=fp_only_recording_fraction,
    )
    out_dir = Path(out_dir)
    catalogue, plans, ids = draw.catalogue, draw.plans, draw.ids
    train_ids, test_ids = draw.tables["train_ids"], draw.tables["test_ids"]
    tp, fp = draw.tables["train_tp"], draw.tables["train_fp"]
    train_truth, test_truth = draw.tables["train_truth"], draw.tables["test_truth"]
    n_total = int(round(clip_seconds * sample_rate))
    shapes = _NoiseShapes.build(n_total, sample_rate)
    stream_of = {recording_id: index for index, recording_id in enumerate(ids)}

    def render_and_write(recording_id: str, path: Path) -> None:
        # one random stream per recording: clips are independent, so threads keep the bytes
        clip_rng = np.random.default_rng([seed, 2, stream_of[recording_id]])
        wave = _render_clip(plans[recording_id], catalogue, shapes, rain_probability, clip_rng)
        _write_flac(wave, path, sample_rate)

    jobs = []
    for split, split_ids in (("train", train_ids), ("test", test_ids)):
        folder = out_dir / split
        _prepare_folder(folder, set(split_ids), clean)
        jobs += [(recording_id, folder / f"{recording_id}.flac") for recording_id in split_ids]
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:  # numpy, FFT and libsndfile drop the GIL
        for future in [pool.submit(render_and_write, *job) for job in jobs]:
            future.result()

    submission = pd.DataFrame({"recording_id": test_ids})
    for species_id in range(n_species):
        submission[f"s{species_id}"] = 0
    _write_csv(tp, out_dir / "train_tp.csv")
    _write_csv(fp, out_dir / "train_fp.csv")
    _write_csv(submission, out_dir / "sample_submission.csv")
    _write_csv(train_truth[list(TRUTH_COLUMNS)], out_dir / "train_truth.csv")
    _write_csv(test_truth[list(TRUTH_COLUMNS)], out_dir / "test_truth.csv")
