/**
 * Stand-ins for the third-party services of the examples, so they run anywhere: each call just
 * takes a few milliseconds, like a fast API would.
 */
import { setTimeout as sleep } from 'node:timers/promises';

const call = <T>(value: T): Promise<T> => sleep(5 + Math.random() * 10, value);

export const github = { createIssue: (data: { title: string }) => call({ url: `https://github.example/issues/${data.title}` }) };
export const stripe = { verify: (orderId: string) => call({ orderId, email: `${orderId}@example.com` }) };
export const sendgrid = { sendConfirmation: (email: string) => call({ sent: email }) };
export const openai = { summarize: (text: string) => call(`summary of ${text}`) };
