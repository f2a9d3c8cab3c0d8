/**
 * A deep copy of plain data: objects and arrays are copied, strings and other primitives shared.
 * Allocating kept objects apart from the garbage that parsing them made lets that garbage free whole
 * heap blocks: JavaScriptCore's collector does not move objects. Anything but plain objects and
 * arrays (a Map, a Date, a class instance) is refused rather than copied wrong.
 */
export function copyData<T>(value: T): T {
  if (Array.isArray(value)) return value.map(copyData) as T;
  if (value === null || typeof value !== "object") return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null)
    throw new TypeError(`copyData copies plain data only, not ${proto?.constructor?.name ?? "this object"}`);
  // fromEntries defines every key as its own property, "__proto__" too, as JSON.parse does.
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copyData(v)])) as T;
}
