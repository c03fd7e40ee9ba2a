/** The event bus in memory: keeps what was published, in order (the simulation's bus; the local stack's is the EventBridge peer). */
import type { EventPublisher } from '../lib/callback/publisher.ts';
import type { PublishedEvent } from '../lib/callback/schemas.ts';

export class MemoryPublisher implements EventPublisher {
  readonly published: PublishedEvent[] = [];

  async publish(event: PublishedEvent): Promise<void> {
    this.published.push(event);
  }
}
