// The plain chat template, for base models without one of their own (every model on chain today;
// vLLM's `--chat-template` plays this part there). Messages become a transcript:
//
//   {system content}\n\n                 (each system message, if any)
//   User: {content}\n\n
//   Assistant: {content}\n\n
//   …
//   Assistant:                           (the turn the model completes)
//
// and CHAT_STOP ("\n\nUser:") is a stop string of every chat request, so a model that was never
// trained on turns stops where it would start writing the user's next one.
import type { ChatMessage } from './requests.ts'

export const CHAT_STOP = '\n\nUser:'

export function renderChat(messages: readonly ChatMessage[]): string {
  let text = ''
  for (const message of messages) {
    if (message.role === 'system') text += `${message.content}\n\n`
    else text += `${message.role === 'user' ? 'User' : 'Assistant'}: ${message.content}\n\n`
  }
  return text + 'Assistant:'
}
