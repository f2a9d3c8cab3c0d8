// etcd compaction through etcd's HTTP/JSON gateway (plain http on loopback in the local cluster),
// so watches resuming from an older resourceVersion get 410 Gone.

async function post(port: number, path: string, body: object): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "Content-Type": "application/json" },
  });
  if (!response.ok) throw new Error(`etcd ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** The store's current revision. */
export async function currentRevision(port: number): Promise<string> {
  // Any range answers with the header; a key that no one writes keeps the answer small.
  const answer = (await post(port, "/v3/kv/range", { key: Buffer.from("/chaos-none").toString("base64") })) as {
    header?: { revision?: string };
  };
  const revision = answer.header?.revision;
  if (!revision) throw new Error("etcd /v3/kv/range answered without a header revision");
  return revision;
}

/** Compacts away every revision before the current one; returns the revision compacted to. */
export async function compact(port: number): Promise<string> {
  const revision = await currentRevision(port);
  try {
    await post(port, "/v3/kv/compaction", { revision, physical: true });
  } catch (err) {
    // Nothing was written since the last compaction (ours or the apiserver's own): already done.
    if (!(err as Error).message.includes("required revision has been compacted")) throw err;
  }
  return revision;
}
