"""The fleet engine: many cars stepped together with numpy, each with its own spec, cycle and time
offset, for load tests and fleet studies. The physics of a step is :func:`smartev.sim.drive.step`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from smartev.core import units
from smartev.core.errors import InvalidInputError
from smartev.sim import battery as bat
from smartev.sim import drive
from smartev.sim.cycles import DriveCycle
from smartev.sim.errors import SimError
from smartev.sim.params import DEFAULT_PARAMS, ModelParams
from smartev.sim.powertrain import DriveParams
from smartev.sim.spec import VehicleSpec

__all__ = ["FleetEngine", "FleetState", "InvalidFleetError"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
_Stackable = TypeVar("_Stackable", DriveParams, bat.Pack)


class InvalidFleetError(SimError, InvalidInputError):
    """The fleet's cars, cycles, offsets, SoC or step do not fit together; the message says how."""


@dataclass(frozen=True, slots=True)
class FleetState:
    """A snapshot of every car, one entry per car (the arrays are copies, safe to keep)."""

    time_s: float
    speed_mps: FloatArray
    soc: FloatArray
    odometer_m: FloatArray
    battery_kwh: FloatArray  # net energy out of the battery terminals since the start
    limited_steps: IntArray  # steps where the car could not reach its cycle's speed
    stopped: BoolArray  # the car ran flat and stopped for good

    @property
    def n_stopped(self) -> int:
        return int(np.count_nonzero(self.stopped))


@dataclass(frozen=True, slots=True)
class _CycleTable:
    """Every distinct cycle's samples end to end, so any mix of cycles is one gather per step.

    Looping, a cycle of L steps is laid out twice over (samples 0..L-1, then again), so a car's
    index is its fixed base (start + offset mod L) plus k mod L, with no per-car modulo; a lap's
    last sample is taken as its first (regulatory cycles start and end at standstill).
    Without loop, it is laid out once (samples 0..L) and a car's index is clamped to it.
    """

    speed_mps: FloatArray
    grade: FloatArray | None  # mean grade of the step ending at each sample; None if all flat
    loop: bool
    laps: tuple[int, ...]  # per distinct cycle: steps in one lap
    base: IntArray  # per car: table index at step 0
    cycle_of: IntArray | None  # per car: its distinct cycle, None when all drive the same
    first: IntArray  # per car: its cycle's first and last index (used without loop)
    last: IntArray

    def index_at(self, k: int) -> IntArray:
        """Each car's table index at step ``k``."""
        if not self.loop:
            index = self.base + k
            # np.clip costs more than these two at fleet sizes.
            np.maximum(index, self.first, out=index)
            return np.minimum(index, self.last, out=index)
        if self.cycle_of is None:
            return self.base + k % self.laps[0]
        shift = np.array([k % lap for lap in self.laps], dtype=np.intp)
        return self.base + shift[self.cycle_of]


class FleetEngine:
    """Steps N cars by ``dt_s`` at a time, each following its cycle at ``t + offset``.

    A car starts at its cycle's speed at its offset and from then on carries the speed it really
    reached, so a car that cannot follow falls behind exactly as in the single-car sequential
    path. With ``loop`` the cycles repeat; without, a car holds the last sample once done.
    A car whose pack runs flat (:func:`~smartev.sim.drive.step` can no longer feed its
    auxiliaries, at the SoC floor) is stopped for good: from the next step its target is 0.
    ``ambient_c`` is the battery temperature, as in
    :func:`~smartev.sim.drive.simulate_cycle`. Offsets are rounded to whole steps.
    """

    def __init__(
        self,
        specs: Sequence[VehicleSpec],
        cycle: DriveCycle | Sequence[DriveCycle],
        *,
        offsets_s: Sequence[float] | FloatArray | None = None,
        soc0: float | Sequence[float] | FloatArray = 0.9,
        dt_s: float = 1.0,
        params: ModelParams = DEFAULT_PARAMS,
        loop: bool = True,
        ambient_c: float = 23.0,
    ) -> None:
        n = len(specs)
        if n == 0:
            raise InvalidFleetError("a fleet needs at least one car: specs is empty")
        if not (math.isfinite(dt_s) and dt_s > 0.0):
            raise InvalidFleetError(f"dt_s {dt_s} must be a finite number of seconds > 0")
        if not math.isfinite(ambient_c):
            raise InvalidFleetError(f"ambient_c {ambient_c} must be a finite temperature")
        cycles = _per_car_cycles(cycle, n)
        offsets = _per_car_array(offsets_s if offsets_s is not None else 0.0, n, "offsets_s")
        soc = _per_car_array(soc0, n, "soc0")
        if np.any((soc < 0.0) | (soc > 1.0)):
            raise InvalidFleetError(f"soc0 must be within 0..1, got {soc.min()}..{soc.max()}")

        self._dt_s = float(dt_s)
        self._ambient_c = float(ambient_c)
        self._p, self._pack = _stack_cars(specs, params)
        self._table = _build_table(cycles, self._dt_s, np.rint(offsets / dt_s), loop)
        self._k = 0
        self._speed0 = self._table.speed_mps[self._table.index_at(0)]
        self._speed = self._speed0
        self._soc = soc
        # Running sums, turned into distance and energy only when a state is read: the
        # trapezoidal distance is dt·(Σv − (v_first + v_last)/2) at a constant step.
        self._speed_sum = self._speed0.copy()
        self._terminal_sum_w = np.zeros(n)
        self._limited_steps = np.zeros(n, dtype=np.intp)
        self._stopped = np.zeros(n, dtype=np.bool_)
        self._any_stopped = False
        self._aux_floor_w = self._p.aux_w * (1.0 - 1e-9)

    @property
    def n_cars(self) -> int:
        return len(self._soc)

    @property
    def dt_s(self) -> float:
        return self._dt_s

    @property
    def state(self) -> FleetState:
        return FleetState(
            time_s=self._k * self._dt_s,
            speed_mps=self._speed.copy(),
            soc=self._soc.copy(),
            odometer_m=self._dt_s * (self._speed_sum - 0.5 * (self._speed0 + self._speed)),
            battery_kwh=self._terminal_sum_w * (self._dt_s / units.J_PER_KWH),
            limited_steps=self._limited_steps.copy(),
            stopped=self._stopped.copy(),
        )

    def step(self) -> None:
        """Advance every car by ``dt_s``."""
        dt = self._dt_s
        v0 = self._speed
        table = self._table
        index = table.index_at(self._k + 1)
        target = table.speed_mps[index]
        if self._any_stopped:
            np.copyto(target, 0.0, where=self._stopped)
        grade = 0.0 if table.grade is None else table.grade[index]
        s = drive.step(
            self._p, self._pack, v0, target, dt, grade, self._soc, battery_temp_c=self._ambient_c
        )
        # drive.step sheds the auxiliaries only when the pack is empty: that car is flat.
        if s.fed_share is not None:
            flat = s.aux_w < self._aux_floor_w
            if flat.any():
                self._stopped |= flat
                self._any_stopped = True
        self._limited_steps += s.limited
        self._speed_sum += s.speed_mps
        self._terminal_sum_w += s.terminal_w
        self._soc = bat.soc_after(self._pack, self._soc, s.current_a, dt)
        self._speed = s.speed_mps
        self._k += 1

    def run(self, seconds: float) -> FleetState:
        """Step for ``seconds`` (rounded to whole steps) and return the state at the end."""
        if not (math.isfinite(seconds) and seconds >= 0.0):
            raise InvalidFleetError(f"seconds {seconds} must be finite and >= 0")
        for _ in range(round(seconds / self._dt_s)):
            self.step()
        return self.state


def _per_car_cycles(cycle: DriveCycle | Sequence[DriveCycle], n: int) -> list[DriveCycle]:
    if isinstance(cycle, DriveCycle):
        return [cycle] * n
    cycles = list(cycle)
    if len(cycles) != n:
        raise InvalidFleetError(
            f"got {len(cycles)} cycles for {n} cars: give one cycle for all or one per car"
        )
    return cycles


def _per_car_array(value: float | Sequence[float] | FloatArray, n: int, name: str) -> FloatArray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidFleetError(f"{name} must be a number or one number per car") from exc
    if array.ndim == 0:
        array = np.full(n, float(array))
    if array.shape != (n,):
        raise InvalidFleetError(
            f"{name} has shape {array.shape} for {n} cars: give one number or {n} numbers"
        )
    if not np.all(np.isfinite(array)):
        raise InvalidFleetError(f"{name} contains NaN or infinity")
    return array


def _stack_cars(specs: Sequence[VehicleSpec], params: ModelParams) -> tuple[DriveParams, bat.Pack]:
    """Per-car drive and pack arrays, derived once per distinct spec and then gathered."""
    distinct: dict[VehicleSpec, int] = {}
    which = np.array([distinct.setdefault(s, len(distinct)) for s in specs], dtype=np.intp)
    p = DriveParams.stack([DriveParams.for_spec(s, params) for s in distinct])
    pack = bat.Pack.stack([bat.pack_for(s) for s in distinct])
    return _gather(p, which), _gather(pack, which)


def _gather(stacked: _Stackable, which: IntArray) -> _Stackable:
    """``stacked`` with every per-car array indexed by ``which`` along its first axis."""
    values: dict[str, Any] = {}
    for f in fields(stacked):
        if not f.init:  # derived from the others when the gathered one is built
            continue
        v = getattr(stacked, f.name)
        values[f.name] = v[which] if isinstance(v, np.ndarray) else v
    return type(stacked)(**values)


def _build_table(
    cycles: list[DriveCycle], dt_s: float, offset_steps: FloatArray, loop: bool
) -> _CycleTable:
    distinct: dict[int, int] = {}  # by identity: cycles hold arrays and do not compare by value
    speeds: list[FloatArray] = []
    grades: list[FloatArray] = []
    starts: list[int] = []
    laps: list[int] = []
    laid_out = 0
    which = np.empty(len(cycles), dtype=np.intp)
    for car, cycle in enumerate(cycles):
        if id(cycle) not in distinct:
            distinct[id(cycle)] = len(distinct)
            r = cycle.resampled(dt_s)
            lap = len(r.time_s) - 1
            g = r.grade
            # The step ending at sample j climbs the mean grade of its two ends. Looping, sample
            # 0 ends the wrap-around step (the lap's last); without, it is the wait at the start.
            ending = np.concatenate(([g[0]], 0.5 * (g[:-1] + g[1:])))
            if loop:
                ending[0] = ending[-1]
                speeds.append(np.tile(r.speed_mps[:lap], 2))
                grades.append(np.tile(ending[:lap], 2))
            else:
                speeds.append(r.speed_mps)
                grades.append(ending)
            starts.append(laid_out)
            laps.append(lap)
            laid_out += len(speeds[-1])
        which[car] = distinct[id(cycle)]
    start = np.asarray(starts, dtype=np.intp)[which]
    lap_of = np.asarray(laps, dtype=np.intp)[which]
    offset = offset_steps.astype(np.intp)
    grade = np.concatenate(grades)
    return _CycleTable(
        speed_mps=np.concatenate(speeds),
        grade=grade if np.any(grade != 0.0) else None,
        loop=loop,
        laps=tuple(laps),
        base=start + (np.remainder(offset, lap_of) if loop else offset),
        cycle_of=which if len(laps) > 1 else None,
        first=start,
        last=start + lap_of,
    )
