// The chat page in a real browser: Debian's Chromium driven by Playwright.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startChat } from "./harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
// The page loads the client from socket.io's CDN, as its docs show; here the
// request is answered with the same package's dist file, so no internet is needed.
const clientBundle = path.join(here, "..", "node_modules", "socket.io-client", "dist", "socket.io.min.js");

let chat;
let browser;

before(async () => {
  assert.ok(existsSync(chromiumPath), `${chromiumPath} is missing: install it with apt-get install chromium`);
  chat = await startChat();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--disable-quic"],
  });
});

after(async () => {
  await browser?.close();
  chat?.stop();
});

async function person(name, chatId) {
  const context = await browser.newContext();
  await context.route("https://cdn.socket.io/**", (route) =>
    route.fulfill({ path: clientBundle, contentType: "application/javascript" }));
  const page = await context.newPage();
  await page.goto(chat.url + "/");
  await page.fill("#name", name);
  await page.click("#login button");
  await page.waitForSelector("#join button:not([disabled])");
  await page.fill("#chat", String(chatId));
  await page.click("#join button");
  return page;
}

test("two people in one chat talk; someone in another chat sees nothing", async () => {
  const alice = await person("alice", 12);
  const bob = await person("bob", 12);
  const carol = await person("carol", 13);
  for (const page of [alice, bob, carol]) await page.waitForSelector("#send button:not([disabled])");

  await alice.fill("#send input", "hello bob");
  await alice.click("#send button");
  await bob.waitForSelector("#messages li:has-text('hello bob')");
  await alice.waitForSelector("#messages li.mine:has-text('hello bob')");
  assert.equal(await bob.textContent("#messages li b"), "alice");

  await bob.fill("#send input", "hi alice");
  await bob.click("#send button");
  await alice.waitForSelector("#messages li:has-text('hi alice')");

  await carol.waitForTimeout(300);
  assert.equal(await carol.locator("#messages li:has-text('hello')").count(), 0);
  // Alice's page showed her message itself; the broadcast left her out.
  assert.equal(await alice.locator("#messages li:has-text('hello bob')").count(), 1);

  // Each page shows who is in its chat; carol is alone in hers.
  await alice.waitForFunction(() => document.querySelector("#members").textContent === "alicebob");
  await bob.waitForFunction(() => document.querySelector("#members").textContent === "alicebob");
  assert.equal(await bob.textContent("#members li.me"), "bob");
  assert.equal(await carol.textContent("#members"), "carol");

  const dir = path.join(root, "target");
  mkdirSync(dir, { recursive: true });
  await bob.screenshot({ path: path.join(dir, "chat-page.png"), fullPage: true });

  // Bob closes his page: he leaves alice's list.
  await bob.context().close();
  await alice.waitForFunction(() => document.querySelector("#members").textContent === "alice");
});

test("joining a forbidden chat shows the error", async () => {
  const eve = await person("eve", 500);
  await eve.waitForSelector("#error.shown");
  assert.match(await eve.textContent("#error"), /You may not join chat\|500/);
  assert.equal(await eve.isDisabled("#send button"), true);
});

test("a person whose connection drops gets what was said meanwhile, once and in order, and is told so", async () => {
  const alice = await person("alice", 14);
  const bob = await person("bob", 14);
  for (const page of [alice, bob]) await page.waitForSelector("#send button:not([disabled])");
  await alice.waitForFunction(() => document.querySelector("#members").textContent === "alicebob");

  // Alice's network goes: her page notices at once (socket.io-client closes
  // its transport on the browser's `offline` event) and cannot reconnect
  // until it is back.
  await alice.context().setOffline(true);
  await alice.waitForSelector("#status:text-is('Disconnected.')");
  const missed = ["missed 1", "missed 2", "missed 3"];
  for (const text of missed) {
    await bob.fill("#send input", text);
    await bob.click("#send button");
    await bob.waitForSelector(`#messages li.mine:has-text('${text}')`);
  }
  assert.equal(await alice.locator("#messages li").count(), 0, "alice was away while bob wrote");
  assert.match(await alice.textContent("#status"), /^(Disconnected|Not connected)\.$/);

  // Back online: socket.io-client reconnects by itself (its back-off
  // bounds the wait), and the resume brings what she missed.
  await alice.context().setOffline(false);
  await alice.waitForSelector("#status:text-is('Reconnected: nothing missed.')", { timeout: 20_000 });
  const shown = () => alice.locator("#messages li").allTextContents();
  assert.deepEqual(await shown(), missed.map((text) => `bob${text}`));
  assert.equal(await alice.isVisible("#error"), false);

  // Still in the chat, without joining again, and shown in it; the next
  // message follows the missed ones, none of which came twice.
  await alice.waitForSelector("#send button:not([disabled])");
  await alice.waitForFunction(() => document.querySelector("#members").textContent === "alicebob");
  await bob.fill("#send input", "welcome back");
  await bob.click("#send button");
  await alice.waitForSelector("#messages li:has-text('welcome back')");
  assert.deepEqual(await shown(), [...missed, "welcome back"].map((text) => `bob${text}`));
});
