// Runs a transformers.js pipeline fully offline on a local model folder and prints its result as JSON on stdout.
// Usage: node check.mjs feature-extraction MODEL_DIR SENTENCE...
//        node check.mjs text-generation MODEL_DIR MAX_NEW_TOKENS PROMPT
// transformers.js resolves MODEL_DIR's config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx itself.
import path from "node:path";
import { env, pipeline } from "@huggingface/transformers";

const [task, modelDir, ...texts] = process.argv.slice(2);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(modelDir)) + path.sep;
const model = path.basename(path.resolve(modelDir));
if (task === "feature-extraction") {
  const extractor = await pipeline(task, model, { local_files_only: true, dtype: "fp32", device: "cpu" });
  const output = await extractor(texts, { pooling: "mean", normalize: true });
  console.log(JSON.stringify({ task, model, dims: output.dims, embeddings: output.tolist() }));
} else if (task === "text-generation") {
  // Usage: node check.mjs text-generation MODEL_DIR MAX_NEW_TOKENS PROMPT
  // Greedy decoding through the pipeline (its text) and through the same pipeline's model.generate (its token ids).
  const [maxNewTokens, prompt] = texts;
  const generator = await pipeline(task, model, { local_files_only: true, dtype: "fp32", device: "cpu" });
  const options = { max_new_tokens: Number(maxNewTokens), do_sample: false };
  const [output] = await generator(prompt, { ...options, return_full_text: false });
  const inputs = generator.tokenizer(prompt);
  const ids = (await generator.model.generate({ ...inputs, ...options })).tolist()[0].map(Number);
  const promptTokens = Array.from(inputs.input_ids.data, Number);
  console.log(JSON.stringify({ task, model, prompt_tokens: promptTokens, tokens: ids.slice(promptTokens.length), text: output.generated_text }));
} else {
  throw new Error(`unsupported task ${task}`);
}
