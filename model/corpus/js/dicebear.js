// DiceBear avatars as SVG, one JSON line each: node dicebear.js STYLE COUNT SEED
// Runs inside a folder whose node_modules holds @dicebear/core and @dicebear/STYLE.
const { createAvatar } = require('@dicebear/core');

const [, , styleName, countArg, seedArg] = process.argv;
const style = require(`@dicebear/${styleName}`);
for (let i = 0; i < Number(countArg); i += 1) {
  const seed = `stylecat-${seedArg}-${i}`;
  process.stdout.write(JSON.stringify({ name: seed, svg: createAvatar(style, { seed }).toString() }) + '\n');
}
