// Runs a transformers.js pipeline fully offline on a local model folder and prints its result as JSON on stdout.
// Usage: node check.mjs feature-extraction MODEL_DIR SENTENCE...
// transformers.js resolves MODEL_DIR's config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx itself.
import path from "node:path";
import { env, pipeline } from "@huggingface/transformers";

const [task, modelDir, ...texts] = process.argv.slice(2);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(modelDir)) + path.sep;
const model = path.basename(path.resolve(modelDir));
if (task !== "feature-extraction") throw new Error(`unsupported task ${task}`);
const extractor = await pipeline(task, model, { local_files_only: true, dtype: "fp32", device: "cpu" });
const output = await extractor(texts, { pooling: "mean", normalize: true });
console.log(JSON.stringify({ task, model, dims: output.dims, embeddings: output.tolist() }));
