import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { imageGridFigure, renderPng, renderSvg } from '../../src/io/plot.js';
import { labelListArg } from '../../src/cli/args.js';

/** Three 2×3 images: all −1 (black), all +1 (white), and a ramp from −1 to 1. */
const images = Float64Array.from([
  ...Array<number>(6).fill(-1),
  ...Array<number>(6).fill(1),
  ...[-1, -0.6, -0.2, 0.2, 0.6, 1],
]);

describe('image grid figure', () => {
  it('places n images in rows of `cols`, maps the range to black..white and clips outside it', () => {
    const f = imageGridFigure(images, 3, 2, 3, { cols: 2, pixel: 10 });
    const tiles = f.marks.filter((m) => m.kind === 'image');
    expect(tiles.map((m) => [m.x, m.y, m.w, m.h])).toEqual([[6, 14, 30, 20], [40, 14, 30, 20], [6, 38, 30, 20]]);
    expect(tiles.map((m) => Array.from(m.gray))).toEqual([
      [0, 0, 0, 0, 0, 0], [255, 255, 255, 255, 255, 255], [0, 51, 102, 153, 204, 255],
    ]);
    const clipped = imageGridFigure([-5, 5, 0.5, Number.NaN], 1, 2, 2, { range: [0, 1] }).marks[0];
    expect(clipped.kind === 'image' && Array.from(clipped.gray)).toEqual([0, 255, 128, 0]);
  });

  it('rasterises each image pixel as a sharp block in the PNG, with column labels above', () => {
    const f = imageGridFigure(images, 3, 2, 3, { cols: 3, pixel: 10, colLabels: ['a', 'b', 'c'], title: 'T' });
    const png = PNG.sync.read(Buffer.from(renderPng(f, 1)));
    expect([png.width, png.height]).toEqual([f.width, f.height]);
    const tile = f.marks.filter((m) => m.kind === 'image')[2];
    if (tile.kind !== 'image') throw new Error('unreachable');
    const at = (x: number, y: number) => png.data[4 * (y * png.width + x)];
    // ramp image: pixel (row 1, col 2) is +1 → white, (row 0, col 1) is −0.6 → 51; sampled at block centres and edges
    expect(at(tile.x + 25, tile.y + 15)).toBe(255);
    expect(at(tile.x + 10, tile.y)).toBe(51);
    expect(at(tile.x + 19, tile.y + 9)).toBe(51);
    expect(f.marks.filter((m) => m.kind === 'text').map((m) => m.kind === 'text' && m.text)).toEqual(['T', 'a', 'b', 'c']);
  });

  it('embeds each image as a pixelated PNG in SVG', () => {
    const svg = renderSvg(imageGridFigure(images, 3, 2, 3));
    expect(svg.match(/<image /g)).toHaveLength(3);
    const uri = /href="data:image\/png;base64,([^"]+)"/.exec(svg)?.[1] ?? '';
    const png = PNG.sync.read(Buffer.from(uri, 'base64'));
    expect([png.width, png.height, png.data[0], png.data[3]]).toEqual([3, 2, 0, 255]);
  });
});

describe('--labels', () => {
  it('reads integers and inclusive ranges, and rejects anything else', () => {
    expect(labelListArg('0..9')).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(labelListArg('3')).toEqual([3]);
    expect(labelListArg('1,7, 2..4')).toEqual([1, 7, 2, 3, 4]);
    for (const bad of ['', 'a', '-1', '3..1', '1,,2', '1.5']) expect(() => labelListArg(bad)).toThrow(/class labels/);
  });
});
