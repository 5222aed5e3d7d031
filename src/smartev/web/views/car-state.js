// What the car screen says about the car's signals, as plain data: the VSS paths it reads and,
// from their current values, the words and numbers of each tile (pure code, no DOM). Units: the
// VSS ones the car sends (percent, m, W, kW, km/h, celsius), shown as people write them.

import { fmt } from '../lib/dom.js';

const BAT = 'Vehicle.Powertrain.TractionBattery';
const DOORS = ['Row1.DriverSide', 'Row1.PassengerSide', 'Row2.DriverSide', 'Row2.PassengerSide'];

export const S = {
  soc: `${BAT}.StateOfCharge.Current`,
  range: 'Vehicle.Powertrain.Range', // m
  batteryRange: `${BAT}.Range`, // m
  locks: DOORS.map((d) => `Vehicle.Cabin.Door.${d}.IsLocked`),
  hvacOn: 'Vehicle.Cabin.HVAC.IsAirConditioningActive',
  cabin: 'Vehicle.Cabin.HVAC.AmbientAirTemperature',
  setpoint: 'Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature',
  charging: `${BAT}.Charging.IsCharging`,
  cable: `${BAT}.Charging.ChargingPort.AnyPosition.IsChargingCableConnected`,
  limit: `${BAT}.Charging.ChargeLimit`,
  chargePower: `${BAT}.Charging.AveragePower`, // kW
  batteryPower: `${BAT}.CurrentPower`, // W
  odometer: 'Vehicle.TraveledDistance', // m
  speed: 'Vehicle.Speed', // km/h
  moving: 'Vehicle.IsMoving',
  lat: 'Vehicle.CurrentLocation.Latitude',
  lon: 'Vehicle.CurrentLocation.Longitude',
  heading: 'Vehicle.CurrentLocation.Heading',
};

const finite = Number.isFinite;
const DASH = '—';

/** Whether the car is driving: it says it moves, or goes faster than walking pace. */
export function isMoving(value) {
  return value(S.moving) === true || (finite(value(S.speed)) && value(S.speed) > 1);
}

/** The car's position for the map, or null. */
export function positionOf(value) {
  const lat = value(S.lat);
  const lon = value(S.lon);
  if (!finite(lat) || !finite(lon)) return null;
  return { lat, lon, heading: value(S.heading) };
}

/** true (every door locked), false (one is not) or null (unknown). */
export function lockedOf(value) {
  const locks = S.locks.map(value).filter((v) => typeof v === 'boolean');
  return locks.length ? locks.every(Boolean) : null;
}

/**
 * Each tile of the card from ``value(path)``: {text, sub, raw, paths} (raw: a data-value for
 * tests and tools; paths: the signals whose staleness greys the tile).
 */
export function describe(value) {
  const rangeM = value(S.range) ?? value(S.batteryRange);
  const hvacOn = value(S.hvacOn);
  const setpoint = value(S.setpoint);
  const cabin = value(S.cabin);
  const charging = value(S.charging);
  const plugged = value(S.cable);
  const limit = value(S.limit);
  const chargeKw = value(S.chargePower);
  const batteryW = value(S.batteryPower);
  const kmh = value(S.speed);
  const odo = value(S.odometer);

  let power = null;
  if (charging && finite(chargeKw)) power = chargeKw;
  else if (finite(batteryW)) power = batteryW / 1000;

  let chargingText = DASH;
  let chargingRaw = null;
  if (charging) [chargingText, chargingRaw] = ['Charging', 'charging'];
  else if (plugged) [chargingText, chargingRaw] = ['Plugged in', 'plugged_in'];
  else if (charging !== undefined) [chargingText, chargingRaw] = ['Not plugged in', 'unplugged'];

  let climateText = DASH;
  if (hvacOn !== undefined) {
    const set = finite(setpoint) ? ` · ${fmt.celsius(setpoint)}` : '';
    climateText = (hvacOn ? 'On' : 'Off') + set;
  }

  let speedSub = '';
  if (isMoving(value)) speedSub = 'driving';
  else if (kmh !== undefined) speedSub = 'parked';

  return {
    soc: { text: fmt.percent(value(S.soc)), raw: value(S.soc), paths: [S.soc] },
    range: {
      text: finite(rangeM) ? `${fmt.num(rangeM / 1000, 0)} km range` : DASH,
      raw: rangeM,
      paths: [S.range],
    },
    climate: {
      text: climateText,
      sub: finite(cabin) ? `Cabin ${fmt.celsius(cabin)}` : '',
      raw: hvacOn === undefined ? null : hvacOn ? 'on' : 'off',
      paths: [S.hvacOn],
    },
    charging: {
      text: chargingText,
      sub: finite(limit) ? `Limit ${fmt.percent(limit)}` : '',
      raw: chargingRaw,
      paths: [S.charging],
    },
    power: {
      text: fmt.kw(power ?? undefined),
      sub: charging ? 'into the battery' : power === null ? '' : 'battery',
      raw: power,
      paths: [charging ? S.chargePower : S.batteryPower],
    },
    speed: {
      text: finite(kmh) ? `${fmt.num(kmh, 0)} km/h` : DASH,
      sub: speedSub,
      raw: kmh,
      paths: [S.speed],
    },
    odometer: {
      // m → km, with a decimal while the figure is small (a new car's first kilometres)
      text: finite(odo) ? `${fmt.num(odo / 1000, odo < 1e6 ? 1 : 0)} km` : DASH,
      raw: odo,
      paths: [S.odometer],
    },
  };
}

/** Positions from a drive's series (detail answer): latitude and longitude paired by time. */
export function positionsOf(series) {
  const points = (s) => {
    if (!s) return [];
    return s.points.length ? s.points : s.buckets.map((b) => ({ ts: b.ts, value: b.avg }));
  };
  const lats = points(series.find((s) => s.path === S.lat));
  const lons = new Map(points(series.find((s) => s.path === S.lon)).map((p) => [p.ts, p.value]));
  return lats.filter((p) => lons.has(p.ts)).map((p) => ({ lat: p.value, lon: lons.get(p.ts) }));
}
