export { ActorSystem, type ActorSystemOptions, type SpawnOptions, resolveMailbox } from './ActorSystem.js';
export { ActorCell, DEFAULT_ASK_TIMEOUT, assertEvent, assertTimeout } from './ActorCell.js';
export { DeadLetters, DeadLetterReason, type DeadLetter, type DeadLetterListener } from './DeadLetters.js';
export { Mailbox, OverflowPolicy, DEFAULT_MAILBOX_CAPACITY, type MailboxOptions } from './Mailbox.js';
export { Scheduler, type SchedulerOptions } from './Scheduler.js';
export { assertName, isValidName, MAX_NAME_LENGTH } from './names.js';
export {
  reply,
  replyTo,
  replyError,
  isAsk,
  type AskEvent,
  type AskReply,
  type DeclaredReply,
  type ReplyAction,
  type ReplyExpr,
  type ReplyHandle,
  type ReplyOf,
} from './reply.js';
export * from './ocf.js';
export * from './types.js';
