import type { V1ObjectMeta } from "@kubernetes/client-node";
import { ApiError, type Transport } from "./transport.ts";
import { collectionPath, objectPath, type ResourceType } from "./resources.ts";

export const FIELD_MANAGER = "podlogreader";

const METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
const METADATA_OBJECT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  /** Ask for PartialObjectMetadata: only metadata crosses the wire. */
  metadataOnly?: boolean;
  pageSize?: number;
}

export interface WatchOptions extends ListOptions {
  resourceVersion: string;
  timeoutSeconds: number;
  signal?: AbortSignal;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
export interface RawWatchEvent {
  type: WatchEventType;
  object: unknown;
}

/** An object sent to `create` or `apply`; its other fields are the resource's own. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
}

/** Thin REST verbs over the transport. Everything it returns is unvalidated JSON; callers parse it. */
export class KubeApi {
  constructor(readonly transport: Transport) {}

  get(rt: ResourceType, namespace: string | undefined, name: string): Promise<unknown> {
    return this.transport.json({ path: objectPath(rt, namespace, name) });
  }

  /** Lists every page and returns the items with the list's resourceVersion. */
  async list(rt: ResourceType, opts: ListOptions = {}): Promise<{ items: unknown[]; resourceVersion: string }> {
    const items: unknown[] = [];
    let cont: string | undefined;
    let resourceVersion = "";
    do {
      const page = (await this.transport.json({
        path: collectionPath(rt, opts.namespace),
        query: { labelSelector: opts.labelSelector, limit: opts.pageSize ?? 500, continue: cont },
        accept: opts.metadataOnly ? METADATA_LIST : undefined,
      })) as { items?: unknown[]; metadata?: { continue?: string; resourceVersion?: string } };
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion ?? "";
    } while (cont);
    return { items, resourceVersion };
  }

  /** Opens a watch; resolves once the server accepted it, to its events until the server ends it or `signal` aborts. */
  async watch(rt: ResourceType, opts: WatchOptions): Promise<AsyncIterable<RawWatchEvent>> {
    const response = await this.transport.request({
      path: collectionPath(rt, opts.namespace),
      query: {
        watch: true,
        allowWatchBookmarks: true,
        resourceVersion: opts.resourceVersion,
        timeoutSeconds: opts.timeoutSeconds,
        labelSelector: opts.labelSelector,
      },
      accept: opts.metadataOnly ? METADATA_OBJECT : undefined,
      signal: opts.signal,
      streaming: true,
    });
    if (!response.body) throw new ApiError("WATCH", rt.plural, 500, "EmptyBody", "the watch response had no body");
    return ndjson(response.body, `${rt.plural} watch`);
  }

  create<T extends KubeObject>(rt: ResourceType, namespace: string | undefined, body: T): Promise<unknown> {
    return this.transport.json({
      method: "POST",
      path: collectionPath(rt, namespace),
      query: { fieldManager: FIELD_MANAGER },
      body,
    });
  }

  /**
   * Server-side apply as field manager "podlogreader". When `body.metadata.resourceVersion` is
   * set it is a precondition: the write fails with 409 if the object changed since it was read.
   */
  apply<T extends KubeObject>(rt: ResourceType, namespace: string, body: T): Promise<unknown> {
    const name = body.metadata?.name;
    if (!name) throw new Error(`apply of a ${rt.kind} without metadata.name`);
    return this.transport.json({
      method: "PATCH",
      path: objectPath(rt, namespace, name),
      query: { fieldManager: FIELD_MANAGER, force: true },
      contentType: "application/apply-patch+yaml",
      body,
    });
  }

  /** Deletes exactly the version that was read: fails with 409 if uid or resourceVersion changed. */
  async delete(rt: ResourceType, namespace: string, name: string, preconditions: { uid: string; resourceVersion: string }): Promise<void> {
    await this.transport.request({
      method: "DELETE",
      path: objectPath(rt, namespace, name),
      body: { apiVersion: "v1", kind: "DeleteOptions", preconditions, propagationPolicy: "Background" },
    });
  }
}

async function* ndjson(body: ReadableStream<Uint8Array>, what: string): AsyncGenerator<RawWatchEvent> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) yield parseEvent(line, what);
    }
  }
  if (buffered.trim()) yield parseEvent(buffered.trim(), what);
}

function parseEvent(line: string, what: string): RawWatchEvent {
  let event: { type?: unknown; object?: unknown };
  try {
    event = JSON.parse(line);
  } catch {
    throw new ApiError("GET", what, 500, "InvalidWatchEvent", `not JSON: ${line.slice(0, 200)}`);
  }
  const type = event.type;
  if (type !== "ADDED" && type !== "MODIFIED" && type !== "DELETED" && type !== "BOOKMARK" && type !== "ERROR") {
    throw new ApiError("GET", what, 500, "InvalidWatchEvent", `unknown event type ${String(type)}`);
  }
  return { type, object: event.object };
}
