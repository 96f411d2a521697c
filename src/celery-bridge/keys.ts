/**
 * The Redis keys of one bridge namespace. Every key starts with `<namespace>:bridge:`, so one
 * ACL key pattern covers the bridge and nothing else (docs/bridge-protocol.md).
 */

export interface BridgeKeys {
  readonly prefix: string;
  /** The list every client pushes its requests to, shared by the coordinators of the namespace. */
  readonly requests: string;
  /** The hash in which live coordinators announce themselves. */
  readonly coordinators: string;
  /** A coordinator's own list: releases and renewals of the leases it granted. */
  coordinator(id: string): string;
  /** A client's reply list. */
  reply(channel: string): string;
}

export function bridgeKeys(namespace: string): BridgeKeys {
  const prefix = `${namespace}:bridge:`;
  return {
    prefix,
    requests: `${prefix}requests`,
    coordinators: `${prefix}coordinators`,
    coordinator: (id) => `${prefix}coordinator:${id}`,
    reply: (channel) => `${prefix}reply:${channel}`,
  };
}
