// orval 8.38.0 and @hey-api/openapi-ts 0.99.0 declare node >=22.18; on Node 20 orval's
// fetch/axios clients die with "Map.groupBy is not a function". This adds the ES2024 statics.
if (typeof Map.groupBy !== 'function') {
  Map.groupBy = function (items, key) {
    const m = new Map(); let i = 0;
    for (const it of items) { const k = key(it, i++); if (!m.has(k)) m.set(k, []); m.get(k).push(it); }
    return m;
  };
}
if (typeof Object.groupBy !== 'function') {
  Object.groupBy = function (items, key) {
    const o = Object.create(null); let i = 0;
    for (const it of items) { const k = key(it, i++); (o[k] ??= []).push(it); }
    return o;
  };
}
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function () { let resolve, reject; const promise = new Promise((a, b) => { resolve = a; reject = b; }); return { promise, resolve, reject }; };
}
