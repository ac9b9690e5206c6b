'use strict'
// `npm run package`: installable tarballs in dist/, the way napi-rs packages an addon.
//
//   node scripts/package.js             release build, then pack
//   node scripts/package.js --no-build  pack the .node already built (tests use it)
//   --out DIR                           write the tarballs to DIR instead of dist/
//
// Writes this platform's binary package (npm/<platform>/ with the .node in it) and the
// main package, whose optionalDependencies name every platform package of
// package.json's napi.targets at the same version (napi-rs's pre-publish adds them
// the same way; they are not in the repository's package.json, where npm would try
// to install packages that are published only at release). Prints the tarballs'
// paths as JSON.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')
const args = process.argv.slice(2)
const outDir = path.resolve(ROOT, args.includes('--out') ? args[args.indexOf('--out') + 1] : 'dist')
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

if (!args.includes('--no-build')) {
  execFileSync('bash', [path.join(ROOT, 'scripts', 'bootstrap.sh')], { stdio: 'inherit', env: { ...process.env, BUILD_PROFILE: 'release' } })
}

/** The npm/<platform>/ packages, one per napi target (`napi create-npm-dirs` made them). */
function platformPackages() {
  const dir = path.join(ROOT, 'npm')
  return fs.readdirSync(dir).map((name) => {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, name, 'package.json'), 'utf8'))
    return { dir: path.join(dir, name), manifest }
  })
}

function pack(dir) {
  const out = execFileSync(npm, ['pack', '--json', '--pack-destination', outDir], { cwd: dir, encoding: 'utf8' })
  return path.join(outDir, JSON.parse(out)[0].filename)
}

fs.mkdirSync(outDir, { recursive: true })
const platforms = platformPackages()
for (const p of platforms) {
  if (p.manifest.version !== pkg.version) {
    throw new Error(`${p.manifest.name} is at ${p.manifest.version}, the package at ${pkg.version}: run napi version`)
  }
}

// This platform's binary package: the .node the build left in the root.
const built = platforms.filter((p) => fs.existsSync(path.join(ROOT, p.manifest.main)))
if (built.length === 0) throw new Error('no .node built for any napi target: run npm run build first')
const tarballs = []
for (const p of built) {
  fs.copyFileSync(path.join(ROOT, p.manifest.main), path.join(p.dir, p.manifest.main))
  try {
    tarballs.push(pack(p.dir))
  } finally {
    fs.rmSync(path.join(p.dir, p.manifest.main), { force: true })
  }
}

// The main package, staged with its optionalDependencies.
const stage = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'rc-sns-analytics-pack-'))
try {
  for (const entry of ['README.md', ...pkg.files]) {
    fs.cpSync(path.join(ROOT, entry), path.join(stage, entry), { recursive: true })
  }
  const manifest = { ...pkg, optionalDependencies: Object.fromEntries(platforms.map((p) => [p.manifest.name, pkg.version])) }
  delete manifest.devDependencies
  delete manifest.scripts
  fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  tarballs.unshift(pack(stage))
} finally {
  fs.rmSync(stage, { recursive: true, force: true })
}
console.log(JSON.stringify(tarballs))
