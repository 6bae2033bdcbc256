"""Audio to log-mel features: decode, downmix, resample, mel spectrogram, float16 npy files.

The log-mel matches ``librosa.feature.melspectrogram`` (0.11 defaults: centred STFT with
zero padding, periodic Hann window, power 2, Slaney mel filters) followed by
``librosa.power_to_db(ref=1.0, amin=1e-10, top_db=80)``, computed with torch's FFT so that
it runs in batches on a GPU (torchaudio cannot be installed beside this torch).
"""

from __future__ import annotations

import math
import os
import sys
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import soundfile as sf
import soxr
import torch
import torch.nn.functional as F
from tqdm import tqdm

from sedcycle.files import atomic_path


def n_frames(clip_seconds: float, sample_rate: int = 32000, hop_length: int = 512) -> int:
    """Number of centred STFT frames of a clip: 60 s at 32 kHz, hop 512 gives 3751."""
    return round(clip_seconds * sample_rate) // hop_length + 1


def load_audio(
    path: str | os.PathLike, sample_rate: int = 32000, clip_seconds: float = 60.0
) -> np.ndarray:
    """Decode ``path`` to mono float32 [round(clip_seconds * sample_rate)] at ``sample_rate``.

    Channels are averaged; the clip is resampled, then zero-padded or cropped to the exact
    length. Raises FileNotFoundError for a missing file, ValueError naming the file for
    audio that cannot be decoded or has no samples.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: audio file not found")
    try:
        wave, native_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise ValueError(f"{path}: cannot decode audio ({error})") from error
    if wave.shape[0] == 0:
        raise ValueError(f"{path}: audio has no samples")
    mono = wave.mean(axis=1, dtype=np.float32) if wave.shape[1] > 1 else wave[:, 0]
    if native_rate != sample_rate:
        # soxr 'HQ' is librosa.load's default resampler (soxr_hq): same samples, and fast.
        resampled = soxr.resample(mono, native_rate, sample_rate, quality="HQ")
        mono = resampled[: math.ceil(len(mono) * sample_rate / native_rate)]
    n_samples = round(clip_seconds * sample_rate)
    out = np.zeros(n_samples, dtype=np.float32)
    keep = min(n_samples, len(mono))
    out[:keep] = mono[:keep]
    return out


class LogMel(torch.nn.Module):
    """Log-mel spectrogram in dB, equal (to float32 rounding) to librosa 0.11's.

    forward(wave [B, n_samples] float) -> [B, n_mels, n_samples // hop_length + 1] float32,
    ``10 * log10(max(mel_power, 1e-10))`` floored per clip at its own maximum minus ``top_db``
    (no floor when ``top_db`` is None).
    """

    def __init__(
        self,
        sample_rate: int = 32000,
        n_mels: int = 128,
        n_fft: int = 2048,
        hop_length: int = 512,
        fmin: float = 0.0,
        fmax: float | None = None,
        top_db: float | None = 80.0,
    ) -> None:
        super().__init__()
        if top_db is not None and top_db < 0:
            raise ValueError(f"top_db must be non-negative or None, got {top_db}")
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.top_db = top_db
        self.amin = 1e-10
        mel_basis = librosa.filters.mel(
            sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax
        )
        self.register_buffer("mel_basis", torch.from_numpy(mel_basis), persistent=False)
        self.mel_blocks = mel_blocks(mel_basis)
        # librosa's default window is scipy's periodic ('fftbins') Hann.
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.ndim != 2:
            raise ValueError(f"LogMel expects a [batch, n_samples] wave, got {tuple(wave.shape)}")
        # torch.stft(center=True, pad_mode="constant") in pieces of frames: a piece's frames,
        # spectrum and power stay in cache, 1.5-2x faster on CPU than one call on 60 s.
        frames = F.pad(wave.float(), (self.n_fft // 2, self.n_fft // 2)).unfold(
            -1, self.n_fft, self.hop_length
        )  # [B, T, n_fft], a view
        step = max(1, 256 // len(wave)) if wave.device.type == "cpu" else frames.shape[1]
        basis = self.mel_basis.T  # [n_freqs, n_mels]
        pieces = []
        for first in range(0, frames.shape[1], step):
            spectrum = torch.view_as_real(
                torch.fft.rfft(frames[:, first : first + step] * self.window)
            )
            power = torch.addcmul(spectrum[..., 0].square(), spectrum[..., 1], spectrum[..., 1])
            # Slaney filters are narrow bands: 16 block products skip the zeros (8x fewer flops).
            pieces.append(
                torch.cat(
                    [power[..., f0:f1] @ basis[f0:f1, m0:m1] for m0, m1, f0, f1 in self.mel_blocks],
                    dim=-1,
                )
            )
        mel = torch.cat(pieces, dim=1).transpose(1, 2).contiguous()  # [B, n_mels, T]
        log_mel = 10.0 * torch.log10(torch.clamp(mel, min=self.amin))
        if self.top_db is not None:
            # The floor is relative to each clip's own maximum, as power_to_db on one clip.
            peak = log_mel.amax(dim=(1, 2), keepdim=True)
            log_mel = torch.maximum(log_mel, peak - self.top_db)
        return log_mel


def mel_blocks(mel_basis: np.ndarray, bands_per_block: int = 8) -> list[tuple[int, int, int, int]]:
    """(first band, end band, first bin, end bin) of consecutive groups of mel filters.

    Each group's filters are zero outside its bin range, so ``mel_basis @ power`` equals the
    concatenation over groups of ``mel_basis[m0:m1, f0:f1] @ power[f0:f1]``.
    """
    blocks = []
    for m0 in range(0, mel_basis.shape[0], bands_per_block):
        m1 = min(m0 + bands_per_block, mel_basis.shape[0])
        bins = np.flatnonzero(np.any(mel_basis[m0:m1] != 0, axis=0))
        # An all-zero group (empty filters) keeps an empty bin range: its product is zeros.
        f0, f1 = (int(bins[0]), int(bins[-1]) + 1) if bins.size else (0, 0)
        blocks.append((m0, m1, f0, f1))
    return blocks


def save_npy_atomic(array: np.ndarray, path: Path) -> None:
    """Write ``array`` to ``path`` via a temporary file in the same folder and os.replace."""
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        np.save(file, array)


def upsampling_warning(upsampled: dict[int, list[str]], sample_rate: int) -> str:
    """The WARNING line for files (by native rate) upsampled to ``sample_rate``."""
    listing = "; ".join(
        f"{rate} Hz: {sorted(names)[:10]}"
        + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        for rate, names in sorted(upsampled.items())
    )
    count = sum(map(len, upsampled.values()))
    return (
        f"WARNING: {count} file(s) recorded below features.sample_rate {sample_rate} Hz were "
        f"upsampled; their features hold nothing above half their own rate ({listing})"
    )


def extract_features(
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    sample_rate: int = 32000,
    clip_seconds: float = 60.0,
    n_mels: int = 128,
    n_fft: int = 2048,
    hop_length: int = 512,
    fmin: float = 0.0,
    fmax: float | None = None,
    top_db: float | None = 80.0,
    batch_size: int = 8,
    progress: bool = True,
    device: str | torch.device | None = None,
    on_bad_audio: str = "error",
) -> pd.DataFrame:
    """Write ``out_dir/{stem}.npy`` float16 [n_mels, n_frames] log-mel for every audio path.

    Every file is tried. Unreadable, truncated or empty audio then either raises one
    ValueError listing all bad files (``on_bad_audio="error"``) or is left out of the
    manifest and listed in its ``problem`` column (``"skip"``). Files that are resampled,
    downmixed, padded or cropped are summarised on stderr; files recorded below
    ``sample_rate`` (upsampled: no content above half their own rate) get a WARNING line
    naming them by rate.

    On CPU, ``torch.get_num_threads()`` worker threads each take whole clips (decode, resample,
    log-mel, write; at most ``batch_size`` clips in flight); on CUDA, clips are decoded
    ``batch_size`` at a time in a background thread while the GPU transforms the previous
    batch. ``device`` None picks CUDA when present. Returns the manifest
    DataFrame(recording_id, n_mels, n_frames, problem), one row per path, in input order;
    ``problem`` is empty for the files that were written.
    """
    if on_bad_audio not in ("error", "skip"):
        raise ValueError(f"on_bad_audio must be 'error' or 'skip', got {on_bad_audio!r}")
    paths = [Path(p) for p in paths]
    stems = [p.stem for p in paths]
    duplicates = sorted(stem for stem, count in Counter(stems).items() if count > 1)
    if duplicates:
        raise ValueError(f"audio files share a recording id (file stem): {duplicates[:5]}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    log_mel = LogMel(sample_rate, n_mels, n_fft, hop_length, fmin, fmax, top_db).to(device)

    problems: dict[str, str] = {}
    notes: dict[str, list[str]] = {}
    upsampled: dict[int, list[str]] = {}  # native rate -> file names

    def load(path: Path) -> np.ndarray | None:
        try:
            info = sf.info(path)
            wave = load_audio(path, sample_rate, clip_seconds)
        except (ValueError, sf.LibsndfileError, RuntimeError) as error:
            problems[path.stem] = str(error) if str(path) in str(error) else f"{path}: {error}"
            return None
        for note, applies in (
            (f"resampled to {sample_rate} Hz", info.samplerate != sample_rate),
            ("downmixed to mono", info.channels > 1),
            (f"zero-padded to {clip_seconds} s", info.duration < clip_seconds - 1e-3),
            (f"cropped to {clip_seconds} s", info.duration > clip_seconds + 1e-3),
        ):
            if applies:
                notes.setdefault(note, []).append(path.name)
        if info.samplerate < sample_rate:
            upsampled.setdefault(info.samplerate, []).append(path.name)
        return wave

    with tqdm(total=len(paths), desc="log-mel", file=sys.stderr, disable=not progress) as bar:
        if device.type == "cuda":
            _extract_batched(paths, out_dir, log_mel, device, batch_size, bar, load)
        else:
            _extract_per_clip(paths, out_dir, log_mel, batch_size, bar, load)
    for note, names in sorted(notes.items()):
        print(f"{len(names)} file(s) {note}: {sorted(names)[:10]}", file=sys.stderr)
    if upsampled:
        print(upsampling_warning(upsampled, sample_rate), file=sys.stderr)
    if problems and on_bad_audio == "error":
        listing = "\n  ".join(problems[stem] for stem in sorted(problems))
        raise ValueError(
            f"{len(problems)} bad audio file(s); fix or remove them, or set "
            f"data.on_bad_audio: skip to leave them out:\n  {listing}"
        )
    frames = n_frames(clip_seconds, sample_rate, hop_length)
    return pd.DataFrame(
        {
            "recording_id": stems,
            "n_mels": n_mels,
            "n_frames": frames,
            "problem": [problems.get(stem, "") for stem in stems],
        }
    )


def _extract_per_clip(
    paths: list[Path],
    out_dir: Path,
    log_mel: LogMel,
    max_in_flight: int,
    bar: tqdm,
    load: Callable[[Path], np.ndarray | None],
) -> None:
    """CPU: ``torch.get_num_threads()`` worker threads each decode, transform and write whole
    clips, with torch itself on one thread.

    Decoding and resampling are single-threaded C that releases the GIL, so clips in parallel
    use every core; torch's own threads on one clip's STFT scaled worse (bench/features.py).
    """
    workers = max(1, torch.get_num_threads())

    def one_clip(path: Path) -> None:
        wave = load(path)
        if wave is None:  # a bad file, recorded by ``load``
            return
        with torch.inference_mode():  # thread-local: entered in the worker
            feature = log_mel(torch.from_numpy(wave)[None])[0].numpy()
        save_npy_atomic(feature.astype(np.float16), out_dir / f"{path.stem}.npy")

    saved_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    in_flight: deque[Future] = deque()
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            try:
                for path in paths:
                    if len(in_flight) >= max(max_in_flight, workers):
                        in_flight.popleft().result()
                        bar.update(1)
                    in_flight.append(pool.submit(one_clip, path))
                while in_flight:
                    in_flight.popleft().result()
                    bar.update(1)
            except BaseException:
                for future in in_flight:
                    future.cancel()
                raise
    finally:
        torch.set_num_threads(saved_threads)


def _extract_batched(
    paths: list[Path],
    out_dir: Path,
    log_mel: LogMel,
    device: torch.device,
    batch_size: int,
    bar: tqdm,
    load: Callable[[Path], np.ndarray | None],
) -> None:
    """CUDA: ``batch_size`` clips per STFT, the next batch decoded in a background thread."""
    batches = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]

    def load_batch(batch: list[Path]) -> tuple[list[Path], np.ndarray | None]:
        waves = {p: load(p) for p in batch}
        good = [p for p in batch if waves[p] is not None]  # bad files are recorded by ``load``
        return good, np.stack([waves[p] for p in good]) if good else None

    with ThreadPoolExecutor(max_workers=1) as loader, torch.inference_mode():
        pending = loader.submit(load_batch, batches[0]) if batches else None
        for index, batch in enumerate(batches):
            good, waves = pending.result()
            # Decode the next batch while this one is transformed and written.
            if index + 1 < len(batches):
                pending = loader.submit(load_batch, batches[index + 1])
            if waves is None:
                bar.update(len(batch))
                continue
            features = log_mel(torch.from_numpy(waves).to(device)).cpu().numpy()
            for path, feature in zip(good, features, strict=True):
                save_npy_atomic(feature.astype(np.float16), out_dir / f"{path.stem}.npy")
            bar.update(len(batch))


def load_features(path: str | os.PathLike) -> np.ndarray:
    """Memory-map a feature file written by :func:`extract_features`: float16 [n_mels, n_frames]."""
    try:
        features = np.load(path, mmap_mode="r")
    except ValueError as error:
        raise ValueError(f"{path}: not a .npy feature file ({error})") from error
    if features.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D [n_mels, n_frames] array, got {features.shape}")
    return features
