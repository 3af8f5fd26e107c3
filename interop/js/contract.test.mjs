// The chat's generated contract (examples/chat/contract/) as other tools read it:
// the AsyncAPI document checked by AsyncAPI's own parser, and the JSON Schemas.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Parser } from "@asyncapi/parser";

const contract = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../examples/chat/contract");
const asyncapi = readFileSync(path.join(contract, "asyncapi.json"), "utf8");

// Severity 0 is an error; warnings, infos and hints (such as "the latest
// AsyncAPI version is not used") do not make a document invalid.
const ERROR = 0;

async function errorsOf(text) {
  const diagnostics = await new Parser().validate(text);
  return diagnostics
    .filter((d) => d.severity === ERROR)
    .map((d) => `${d.code} at ${d.path.join(".") || "(root)"}: ${d.message}`);
}

test("asyncapi.json is valid AsyncAPI for AsyncAPI's parser", async () => {
  assert.equal(JSON.parse(asyncapi).asyncapi, "3.0.0");
  const errors = await errorsOf(asyncapi);
  assert.deepEqual(errors, [], `the parser's errors:\n${errors.join("\n")}`);
});

test("the parser rejects the document with a schema it references deleted", async () => {
  const doc = JSON.parse(asyncapi);
  assert.ok(doc.components.schemas.ChatRoom, "the document no longer has #/components/schemas/ChatRoom");
  delete doc.components.schemas.ChatRoom;
  const errors = await errorsOf(JSON.stringify(doc));
  assert.ok(errors.some((e) => e.includes("#/components/schemas/ChatRoom")), `errors: ${errors.join("\n")}`);
});

test("the parser rejects the document with a channel parameter deleted", async () => {
  const doc = JSON.parse(asyncapi);
  const chat = doc.channels.GlobalNamespace_chat;
  assert.equal(chat.address, "chat|{chat_id}");
  delete chat.parameters.chat_id;
  const errors = await errorsOf(JSON.stringify(doc));
  assert.ok(errors.some((e) => e.includes("chat_id")), `errors: ${errors.join("\n")}`);
});

/** Every `*.json` file under `dir`, as a path relative to it. */
function jsonFiles(dir) {
  return readdirSync(dir, { recursive: true })
    .filter((file) => file.endsWith(".json"))
    .sort();
}

/** Every `$ref` value inside `value`. */
function refsIn(value, found = []) {
  if (Array.isArray(value)) for (const item of value) refsIn(item, found);
  else if (value && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      if (key === "$ref" && typeof inner === "string") found.push(inner);
      else refsIn(inner, found);
    }
  }
  return found;
}

/** What a local JSON pointer (`#/definitions/Name`) points to in `doc`, or undefined. */
function resolve(doc, ref) {
  if (!ref.startsWith("#/")) return undefined;
  return ref
    .slice(2)
    .split("/")
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((node, part) => (node && typeof node === "object" ? node[part] : undefined), doc);
}

test("each schemas/**/*.json is a draft-07 schema whose $refs resolve in its own definitions", () => {
  const dir = path.join(contract, "schemas");
  const files = jsonFiles(dir);
  assert.ok(files.length > 0, `no schemas under ${dir}`);
  for (const file of files) {
    const schema = JSON.parse(readFileSync(path.join(dir, file), "utf8"));
    assert.equal(schema.$schema, "http://json-schema.org/draft-07/schema#", file);
    assert.match(schema.$ref ?? "", /^#\/definitions\/./, `${file}: a top-level $ref into its definitions`);
    for (const ref of refsIn(schema)) {
      assert.match(ref, /^#\/definitions\//, `${file}: ${ref} is not local`);
      assert.ok(resolve(schema, ref), `${file}: ${ref} resolves to nothing`);
    }
  }
});
