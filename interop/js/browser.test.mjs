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
