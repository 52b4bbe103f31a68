import { JsonSocket } from '@nestjs/microservices/helpers/index.js';

/**
 * The socket of the TCP transport between the gateway and the recommendation service (the `socketClass` of
 * both ends): Nest's JsonSocket framing, but the messages written during one turn of the event loop leave in
 * one system call (the socket is corked at the first and uncorked when the turn ends). Under load many
 * answers are ready in the same turn (the gateway's requests, the service's replies); on loopback each
 * write costs the sender the receiver's whole TCP path too, which profiles showed as the largest single cost.
 */
export class CorkedJsonSocket extends JsonSocket {
  private corked = false;

  protected override handleSend(message: unknown, callback?: (err?: unknown) => void): void {
    if (!this.corked) {
      this.corked = true;
      this.netSocket.cork();
      setImmediate(() => {
        this.corked = false;
        this.netSocket.uncork();
      });
    }
    super.handleSend(message, callback);
  }
}
