import type { V1ObjectMeta } from "@kubernetes/client-node";
import { ApiError, type Transport } from "./transport.ts";
import { collectionPath, objectPath, type ResourceType } from "./resources.ts";
import { lines } from "../util/lines.ts";

export const FIELD_MANAGER = "podlogreader";

const METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
const METADATA_OBJECT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  /** e.g. `metadata.name=web-0`: a list or watch of one name, which RBAC resourceNames can allow. */
  fieldSelector?: string;
  /** Ask for PartialObjectMetadata: only metadata crosses the wire. */
  metadataOnly?: boolean;
  pageSize?: number;
}

export interface PagedListOptions extends ListOptions {
  /**
   * Takes each page's items as they come; the result then holds none of them, so a large list is
   * never whole in memory at once.
   */
  onPage?: (items: unknown[]) => void;
  signal?: AbortSignal;
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
  /** `beforeWrite` runs before every request that changes something, and throws to stop it. */
  constructor(
    readonly transport: Transport,
    private readonly beforeWrite?: () => void,
  ) {}

  /**
   * The same API, with every write first passing `check` (which throws to refuse it): the
   * leader's fence, so that no write starts once the lease may have been taken over.
   */
  withWriteFence(check: () => void): KubeApi {
    return new KubeApi(this.transport, check);
  }

  get(rt: ResourceType, namespace: string | undefined, name: string, subresource?: string, signal?: AbortSignal): Promise<unknown> {
    return this.transport.json({ path: objectPath(rt, namespace, name, subresource), signal });
  }

  /** GET of one object as PartialObjectMetadata: only its metadata crosses the wire. */
  getMetadata(rt: ResourceType, namespace: string | undefined, name: string, signal?: AbortSignal): Promise<unknown> {
    return this.transport.json({ path: objectPath(rt, namespace, name), accept: METADATA_OBJECT, signal });
  }

  /** GET /version: the server's `gitVersion`. */
  async serverVersion(signal?: AbortSignal): Promise<string> {
    const version = (await this.transport.json({ path: "/version", signal })) as { gitVersion?: string };
    return version.gitVersion ?? "unknown";
  }

  /**
   * A streamed GET of a subresource (pods/log with follow=true): the response body, read as it
   * comes, with no idle timeout.
   */
  async stream(
    rt: ResourceType,
    namespace: string,
    name: string,
    subresource: string,
    query: Record<string, string | number | boolean | undefined>,
    signal?: AbortSignal,
  ): Promise<ReadableStream<Uint8Array>> {
    const response = await this.transport.request({ path: objectPath(rt, namespace, name, subresource), query, signal, streaming: true });
    if (!response.body)
      throw new ApiError("GET", objectPath(rt, namespace, name, subresource), 500, "EmptyBody", "the response had no body");
    return response.body;
  }

  /** Lists every page and returns the items (or hands each page to `onPage`) with the list's resourceVersion. */
  async list(rt: ResourceType, opts: PagedListOptions = {}): Promise<{ items: unknown[]; resourceVersion: string }> {
    const items: unknown[] = [];
    let cont: string | undefined;
    let resourceVersion = "";
    do {
      const page = (await this.transport.json({
        path: collectionPath(rt, opts.namespace),
        query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: opts.pageSize ?? 500, continue: cont },
        accept: opts.metadataOnly ? METADATA_LIST : undefined,
        signal: opts.signal,
      })) as { items?: unknown[]; metadata?: { continue?: string; resourceVersion?: string } };
      if (opts.onPage) opts.onPage(page.items ?? []);
      else items.push(...(page.items ?? []));
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
        fieldSelector: opts.fieldSelector,
      },
      accept: opts.metadataOnly ? METADATA_OBJECT : undefined,
      signal: opts.signal,
      streaming: true,
    });
    if (!response.body) throw new ApiError("WATCH", rt.plural, 500, "EmptyBody", "the watch response had no body");
    return ndjson(response.body, `${rt.plural} watch`);
  }

  create<T extends KubeObject>(rt: ResourceType, namespace: string | undefined, body: T, fieldManager = FIELD_MANAGER): Promise<unknown> {
    this.beforeWrite?.();
    return this.transport.json({
      method: "POST",
      path: collectionPath(rt, namespace),
      query: { fieldManager },
      body,
    });
  }

  /** POST to a subresource of one object, e.g. serviceaccounts/token (TokenRequest). */
  createSubresource(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    subresource: string,
    body: KubeObject,
  ): Promise<unknown> {
    this.beforeWrite?.();
    return this.transport.json({ method: "POST", path: objectPath(rt, namespace, name, subresource), body });
  }

  /**
   * Asks a review API (SubjectAccessReview, SelfSubjectAccessReview, TokenReview...): the server
   * answers in the returned object's status and stores nothing.
   */
  review(rt: ResourceType, body: KubeObject & { spec: unknown }): Promise<unknown> {
    return this.transport.json({ method: "POST", path: collectionPath(rt), body });
  }

  /** PUT of a whole object; its `metadata.resourceVersion`, when set, is a precondition. */
  update<T extends KubeObject>(
    rt: ResourceType,
    namespace: string | undefined,
    body: T,
    options: { subresource?: string; fieldManager?: string; signal?: AbortSignal } = {},
  ): Promise<unknown> {
    const name = body.metadata?.name;
    if (!name) throw new Error(`update of a ${rt.kind} without metadata.name`);
    this.beforeWrite?.();
    return this.transport.json({
      method: "PUT",
      path: objectPath(rt, namespace, name, options.subresource),
      query: { fieldManager: options.fieldManager ?? FIELD_MANAGER },
      body,
      signal: options.signal,
    });
  }

  /** A JSON merge patch (RFC 7386), optionally of a subresource such as status. */
  mergePatch(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    options: { subresource?: string; fieldManager?: string } = {},
  ): Promise<unknown> {
    this.beforeWrite?.();
    return this.transport.json({
      method: "PATCH",
      path: objectPath(rt, namespace, name, options.subresource),
      query: { fieldManager: options.fieldManager ?? FIELD_MANAGER },
      contentType: "application/merge-patch+json",
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
    this.beforeWrite?.();
    return this.transport.json({
      method: "PATCH",
      path: objectPath(rt, namespace, name),
      query: { fieldManager: FIELD_MANAGER, force: true },
      contentType: "application/apply-patch+yaml",
      body,
    });
  }

  /**
   * Deletes an object. With `preconditions` exactly the version that was read is deleted: the
   * call fails with 409 if its uid or resourceVersion changed. With `dryRun` the apiserver
   * authorizes and checks the request in full but deletes nothing.
   */
  async delete(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    preconditions?: { uid?: string; resourceVersion?: string },
    propagationPolicy: "Background" | "Foreground" | "Orphan" = "Background",
    options: { dryRun?: boolean } = {},
  ): Promise<void> {
    this.beforeWrite?.();
    const response = await this.transport.request({
      method: "DELETE",
      path: objectPath(rt, namespace, name),
      // DeleteOptions in the body: with a body the apiserver ignores them in the query.
      body: {
        apiVersion: "v1",
        kind: "DeleteOptions",
        ...(preconditions ? { preconditions } : {}),
        propagationPolicy,
        ...(options.dryRun ? { dryRun: ["All"] } : {}),
      },
    });
    await response.body?.cancel();
  }
}

async function* ndjson(body: ReadableStream<Uint8Array>, what: string): AsyncGenerator<RawWatchEvent> {
  for await (const line of lines(body)) if (line.trim()) yield parseEvent(line.trim(), what);
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
