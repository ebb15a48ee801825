//! Printable PDF documents: a title, a few lines under it, headings, text
//! and tables that break across pages with the header row repeated, a
//! running title and `Page n of N` on every page, and optionally a logo
//! (an [`Image`]) at the top right of the first page.
//!
//! Text is set in the standard Helvetica faces (no font file to ship) in
//! WinAnsi encoding: Latin-1 and the usual typographic punctuation print as
//! themselves, anything else as `?`. Layout measures text with the faces'
//! own metrics, so cells wrap at word boundaries within their column. The
//! file itself is written by `pdf-writer`, content streams deflated.
//!
//! ```
//! use kernel::pdf::{Column, Document, Table};
//! let mut table = Table::new(vec![Column::new("Course", 2.0), Column::new("Rate", 1.0)]);
//! table.row(["COMP101", "92.5 %"]);
//! let bytes = Document::landscape("Attendance")
//!     .line("Term 1, 2026")
//!     .table(table)
//!     .render("Generated 2026-11-29 08:00");
//! assert!(bytes.starts_with(b"%PDF-"));
//! ```

use std::io::Write as _;

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

const LOGO: Name<'static> = Name(b"Im1");
/// The logo's box at most, in points.
const LOGO_MAX: (f32, f32) = (120.0, 48.0);

/// Page geometry in points (1/72 inch): A4.
const A4: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 36.0;
const FOOTER: f32 = 22.0;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

const TITLE_SIZE: f32 = 16.0;
const LINE_SIZE: f32 = 9.0;
const HEADING_SIZE: f32 = 11.0;
const TEXT_SIZE: f32 = 9.0;
const CELL_SIZE: f32 = 8.0;
const SMALL_SIZE: f32 = 7.5;
const PAD: f32 = 3.0;

/// Paper orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    Portrait,
    Landscape,
}

/// One table column: its title, its share of the table's width and how its
/// cells are aligned.
#[derive(Debug, Clone)]
pub struct Column {
    pub title: String,
    pub weight: f32,
    pub align: Align,
}

/// Horizontal alignment of a column's cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

impl Column {
    /// A left-aligned column with `weight` shares of the width.
    pub fn new(title: impl Into<String>, weight: f32) -> Self {
        Self {
            title: title.into(),
            weight: weight.max(0.1),
            align: Align::Left,
        }
    }

    /// The same column, right-aligned (numbers).
    #[must_use]
    pub fn right(mut self) -> Self {
        self.align = Align::Right;
        self
    }
}

/// One table cell: text (`\n` starts a new line) and whether it is muted
/// (grey, e.g. a continuation).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    pub text: String,
    pub muted: bool,
}

impl Cell {
    /// A grey cell.
    pub fn muted(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            muted: true,
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self { text, muted: false }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        text.to_owned().into()
    }
}

impl From<&String> for Cell {
    fn from(text: &String) -> Self {
        text.clone().into()
    }
}

/// One table row; a shaded row has a light grey background (a break, a
/// total).
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub cells: Vec<Cell>,
    pub shaded: bool,
}

/// A table: columns and rows. Rows shorter than the columns are padded with
/// empty cells; extra cells are dropped.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

impl Table {
    pub fn new(columns: Vec<Column>) -> Self {
        Self {
            columns,
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn row<C: Into<Cell>>(&mut self, cells: impl IntoIterator<Item = C>) -> &mut Self {
        self.rows.push(Row {
            cells: cells.into_iter().map(Into::into).collect(),
            shaded: false,
        });
        self
    }

    /// Appends a shaded row.
    pub fn shaded_row<C: Into<Cell>>(&mut self, cells: impl IntoIterator<Item = C>) -> &mut Self {
        self.rows.push(Row {
            cells: cells.into_iter().map(Into::into).collect(),
            shaded: true,
        });
        self
    }
}

/// A raster image (a logo): 8-bit RGB samples row by row, top row first,
/// with an optional 8-bit alpha channel. Decoding a PNG or JPEG file into
/// samples is the caller's business (any image crate does it); the PDF
/// carries the samples deflated, alpha as a soft mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
    alpha: Option<Vec<u8>>,
}

impl Image {
    /// `width × height` pixels of `rgb` (3 bytes each); `None` when the
    /// sizes disagree or the image is empty.
    pub fn rgb(width: u32, height: u32, rgb: Vec<u8>) -> Option<Self> {
        let pixels = usize::try_from(u64::from(width) * u64::from(height)).ok()?;
        (pixels > 0 && rgb.len() == pixels.checked_mul(3)?).then_some(Self {
            width,
            height,
            rgb,
            alpha: None,
        })
    }

    /// The same image with an alpha channel (1 byte a pixel); `None` when
    /// its length does not match.
    pub fn with_alpha(mut self, alpha: Vec<u8>) -> Option<Self> {
        (alpha.len() * 3 == self.rgb.len()).then(|| {
            self.alpha = Some(alpha);
            self
        })
    }

    /// Its size on the page: fitted into [`LOGO_MAX`], aspect kept.
    fn fitted(&self) -> (f32, f32) {
        #[allow(clippy::cast_precision_loss)]
        let (w, h) = (self.width as f32, self.height as f32);
        let scale = (LOGO_MAX.0 / w).min(LOGO_MAX.1 / h);
        (w * scale, h * scale)
    }
}

#[derive(Debug, Clone)]
enum Block {
    Heading(String),
    Text(String),
    Table(Table),
}

/// A document to render.
#[derive(Debug, Clone)]
pub struct Document {
    title: String,
    lines: Vec<String>,
    blocks: Vec<Block>,
    orientation: Orientation,
    logo: Option<Image>,
}

impl Document {
    /// An A4 document in `orientation`.
    pub fn new(title: impl Into<String>, orientation: Orientation) -> Self {
        Self {
            title: title.into(),
            lines: Vec::new(),
            blocks: Vec::new(),
            orientation,
            logo: None,
        }
    }

    /// An A4 landscape document (wide tables).
    pub fn landscape(title: impl Into<String>) -> Self {
        Self::new(title, Orientation::Landscape)
    }

    /// A line under the title (who, what period, which filters).
    #[must_use]
    pub fn line(mut self, line: impl Into<String>) -> Self {
        self.lines.push(line.into());
        self
    }

    /// A logo at the top right of the first page, beside the title.
    #[must_use]
    pub fn logo(mut self, image: Image) -> Self {
        self.logo = Some(image);
        self
    }

    /// A section heading.
    #[must_use]
    pub fn heading(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Heading(text.into()));
        self
    }

    /// A paragraph, wrapped to the page width.
    #[must_use]
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Text(text.into()));
        self
    }

    /// A table.
    #[must_use]
    pub fn table(mut self, table: Table) -> Self {
        self.blocks.push(Block::Table(table));
        self
    }

    /// The PDF file. `footer` is printed at the foot of every page, left of
    /// the page number (e.g. when the document was generated).
    pub fn render(&self, footer: &str) -> Vec<u8> {
        let (width, height) = match self.orientation {
            Orientation::Portrait => A4,
            Orientation::Landscape => (A4.1, A4.0),
        };
        let mut layout = Layout::new(width, height);
        let logo = self.logo.as_ref().map(Image::fitted);
        if let Some((w, h)) = logo {
            layout.logo(w, h);
        }
        layout.title(&self.title, &self.lines, logo);
        for block in &self.blocks {
            match block {
                Block::Heading(text) => layout.heading(text),
                Block::Text(text) => layout.paragraph(text),
                Block::Table(table) => layout.table(table),
            }
        }
        layout.write(&self.title, footer, self.logo.as_ref())
    }
}

// ----- layout -----

/// One page being drawn: its content stream and the next free y (top
/// down, PDF's y grows upwards).
struct Page {
    content: Content,
}

struct Layout {
    width: f32,
    height: f32,
    pages: Vec<Page>,
    y: f32,
}

impl Layout {
    fn new(width: f32, height: f32) -> Self {
        let mut layout = Self {
            width,
            height,
            pages: Vec::new(),
            y: 0.0,
        };
        layout.new_page();
        layout
    }

    fn inner_width(&self) -> f32 {
        self.width - 2.0 * MARGIN
    }

    fn bottom(&self) -> f32 {
        MARGIN + FOOTER
    }

    fn page(&mut self) -> &mut Content {
        // A page is pushed in `new`, so there is always a last one.
        let last = self.pages.len() - 1;
        &mut self.pages[last].content
    }

    fn new_page(&mut self) {
        self.pages.push(Page {
            content: Content::new(),
        });
        self.y = self.height - MARGIN;
        if self.pages.len() > 1 {
            // Room for the running title written at the end.
            self.y -= SMALL_SIZE + 8.0;
        }
    }

    /// Starts a new page unless `needed` points still fit on this one.
    fn ensure(&mut self, needed: f32) -> bool {
        if self.y - needed < self.bottom() {
            self.new_page();
            return true;
        }
        false
    }

    fn text_at(&mut self, x: f32, y: f32, font: Name<'static>, size: f32, gray: f32, text: &str) {
        draw_text(self.page(), x, y, (font, size, gray), text);
    }

    /// Draws the logo (`w × h` points) at the top right of this page.
    fn logo(&mut self, w: f32, h: f32) {
        let (x, y) = (self.width - MARGIN - w, self.y - h);
        let content = self.page();
        content.save_state();
        content.transform([w, 0.0, 0.0, h, x, y]);
        content.x_object(LOGO);
        content.restore_state();
    }

    /// The title and its lines, left of a logo of `logo` size when there is
    /// one; the page continues below both.
    fn title(&mut self, title: &str, lines: &[String], logo: Option<(f32, f32)>) {
        let top = self.y;
        let width = self.inner_width() - logo.map_or(0.0, |(w, _)| w + 12.0);
        for line in wrap(title, true, TITLE_SIZE, width) {
            self.y -= TITLE_SIZE;
            self.text_at(MARGIN, self.y, BOLD, TITLE_SIZE, 0.0, &line);
            self.y -= 4.0;
        }
        for line in lines {
            for part in wrap(line, false, LINE_SIZE, width) {
                self.y -= LINE_SIZE + 2.0;
                self.text_at(MARGIN, self.y, REGULAR, LINE_SIZE, 0.3, &part);
            }
        }
        if let Some((_, h)) = logo {
            self.y = self.y.min(top - h);
        }
        self.y -= 10.0;
    }

    fn heading(&mut self, text: &str) {
        self.ensure(HEADING_SIZE + 40.0);
        self.y -= HEADING_SIZE + 4.0;
        self.text_at(MARGIN, self.y, BOLD, HEADING_SIZE, 0.0, text);
        self.y -= 6.0;
    }

    fn paragraph(&mut self, text: &str) {
        let width = self.inner_width();
        for line in wrap(text, false, TEXT_SIZE, width) {
            self.ensure(TEXT_SIZE + 3.0);
            self.y -= TEXT_SIZE + 3.0;
            self.text_at(MARGIN, self.y, REGULAR, TEXT_SIZE, 0.0, &line);
        }
        self.y -= 8.0;
    }

    fn table(&mut self, table: &Table) {
        if table.columns.is_empty() {
            return;
        }
        let total: f32 = table.columns.iter().map(|c| c.weight).sum();
        let inner = self.inner_width();
        let widths: Vec<f32> = table
            .columns
            .iter()
            .map(|c| inner * c.weight / total)
            .collect();
        let header: Vec<Vec<String>> = table
            .columns
            .iter()
            .zip(&widths)
            .map(|(c, w)| wrap(&c.title, true, CELL_SIZE, w - 2.0 * PAD))
            .collect();
        let line_height = CELL_SIZE + 2.0;
        let height_of = |lines: &[Vec<String>]| {
            let most = lines.iter().map(Vec::len).max().unwrap_or(1).max(1);
            #[allow(clippy::cast_precision_loss)]
            let most = most as f32;
            most * line_height + 2.0 * PAD
        };
        let header_height = height_of(&header);
        // The tallest a row may be: a page below its header row.
        let room = self.height - 2.0 * MARGIN - FOOTER - SMALL_SIZE - 8.0 - header_height;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let max_lines = (((room - 2.0 * PAD) / line_height).floor() as usize).max(1);

        let empty = Cell::default();
        let mut first = true;
        for row in &table.rows {
            let mut cells: Vec<Vec<String>> = widths
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let cell = row.cells.get(i).unwrap_or(&empty);
                    wrap(&cell.text, false, CELL_SIZE, w - 2.0 * PAD)
                })
                .collect();
            for lines in &mut cells {
                if lines.len() > max_lines {
                    lines.truncate(max_lines);
                    if let Some(last) = lines.last_mut() {
                        last.push('…');
                    }
                }
            }
            let height = height_of(&cells);
            let broke = self.ensure(height + if first { header_height } else { 0.0 });
            if first || broke {
                self.table_row(&widths, &table.columns, &header, None, true, false);
                first = false;
            }
            self.table_row(
                &widths,
                &table.columns,
                &cells,
                Some(row),
                false,
                row.shaded,
            );
        }
        if first {
            // No rows: the header alone, so the reader sees the columns.
            self.ensure(header_height);
            self.table_row(&widths, &table.columns, &header, None, true, false);
        }
        self.y -= 10.0;
    }

    fn table_row(
        &mut self,
        widths: &[f32],
        columns: &[Column],
        lines: &[Vec<String>],
        row: Option<&Row>,
        header: bool,
        shaded: bool,
    ) {
        let line_height = CELL_SIZE + 2.0;
        let most = lines.iter().map(Vec::len).max().unwrap_or(1).max(1);
        #[allow(clippy::cast_precision_loss)]
        let height = most as f32 * line_height + 2.0 * PAD;
        let top = self.y;
        let bottom = top - height;
        let inner = self.inner_width();
        {
            let content = self.page();
            if header || shaded {
                content.set_fill_gray(if header { 0.85 } else { 0.94 });
                content.rect(MARGIN, bottom, inner, height);
                content.fill_nonzero();
            }
            content.set_stroke_gray(0.6);
            content.set_line_width(0.5);
            let mut x = MARGIN;
            for w in widths {
                content.rect(x, bottom, *w, height);
                x += w;
            }
            content.stroke();
        }
        let mut x = MARGIN;
        for (i, (w, cell_lines)) in widths.iter().zip(lines).enumerate() {
            let muted = row.and_then(|r| r.cells.get(i)).is_some_and(|c| c.muted);
            let gray = if muted { 0.45 } else { 0.0 };
            let font = if header { BOLD } else { REGULAR };
            let mut y = top - PAD - CELL_SIZE;
            for line in cell_lines {
                let tx = match columns[i].align {
                    Align::Right if !header => x + w - PAD - measure(line, false, CELL_SIZE),
                    _ => x + PAD,
                };
                self.text_at(tx, y, font, CELL_SIZE, gray, line);
                y -= line_height;
            }
            x += w;
        }
        self.y = bottom;
    }

    /// Adds running titles and footers, then writes the file.
    fn write(mut self, title: &str, footer: &str, logo: Option<&Image>) -> Vec<u8> {
        let count = self.pages.len();
        let (width, height) = (self.width, self.height);
        let inner = self.inner_width();
        let running = clip(title, false, SMALL_SIZE, inner);
        for (index, page) in self.pages.iter_mut().enumerate() {
            let small = (REGULAR, SMALL_SIZE, 0.4);
            if index > 0 {
                draw_text(
                    &mut page.content,
                    MARGIN,
                    height - MARGIN - SMALL_SIZE,
                    small,
                    &running,
                );
            }
            let number = format!("Page {} of {count}", index + 1);
            let number_width = measure(&number, false, SMALL_SIZE);
            let left = clip(footer, false, SMALL_SIZE, inner - number_width - 12.0);
            draw_text(&mut page.content, MARGIN, MARGIN, small, &left);
            draw_text(
                &mut page.content,
                width - MARGIN - number_width,
                MARGIN,
                small,
                &number,
            );
        }

        let mut pdf = Pdf::new();
        let mut next = 1;
        let mut alloc = || {
            let r = Ref::new(next);
            next += 1;
            r
        };
        let catalog = alloc();
        let tree = alloc();
        let regular = alloc();
        let bold = alloc();
        let info = alloc();
        let image = logo.map(|image| {
            let mask = image.alpha.as_ref().map(|_| alloc());
            (image, alloc(), mask)
        });
        let ids: Vec<(Ref, Ref)> = (0..count).map(|_| (alloc(), alloc())).collect();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(ids.iter().map(|(page, _)| *page))
            .count(i32::try_from(count).unwrap_or(i32::MAX));
        pdf.type1_font(regular)
            .base_font(Name(b"Helvetica"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.type1_font(bold)
            .base_font(Name(b"Helvetica-Bold"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.document_info(info)
            .title(TextStr(title))
            .producer(TextStr("campus"));
        if let Some((image, id, mask)) = image {
            let samples = deflate(&image.rgb);
            let mut x = pdf.image_xobject(id, &samples);
            x.filter(Filter::FlateDecode);
            x.width(i32::try_from(image.width).unwrap_or(i32::MAX));
            x.height(i32::try_from(image.height).unwrap_or(i32::MAX));
            x.color_space().device_rgb();
            x.bits_per_component(8);
            if let Some(mask) = mask {
                x.s_mask(mask);
            }
            x.finish();
            if let (Some(mask), Some(alpha)) = (mask, &image.alpha) {
                let samples = deflate(alpha);
                let mut m = pdf.image_xobject(mask, &samples);
                m.filter(Filter::FlateDecode);
                m.width(i32::try_from(image.width).unwrap_or(i32::MAX));
                m.height(i32::try_from(image.height).unwrap_or(i32::MAX));
                m.color_space().device_gray();
                m.bits_per_component(8);
                m.finish();
            }
        }
        for (index, (page, (page_id, content_id))) in self.pages.into_iter().zip(&ids).enumerate() {
            let mut p = pdf.page(*page_id);
            p.media_box(Rect::new(0.0, 0.0, width, height));
            p.parent(tree);
            p.contents(*content_id);
            let mut resources = p.resources();
            resources.fonts().pair(REGULAR, regular).pair(BOLD, bold);
            if let (0, Some((_, id, _))) = (index, image) {
                resources.x_objects().pair(LOGO, id);
            }
            resources.finish();
            p.finish();
            let raw = page.content.finish();
            let deflated = deflate(&raw);
            pdf.stream(*content_id, &deflated)
                .filter(Filter::FlateDecode);
        }
        pdf.finish()
    }
}

/// Sets `text` at (`x`, `y`) in `style` = (font, size, gray level).
fn draw_text(content: &mut Content, x: f32, y: f32, style: (Name<'static>, f32, f32), text: &str) {
    let (font, size, gray) = style;
    let bytes = win_ansi(text);
    content.set_fill_gray(gray);
    content.begin_text();
    content.set_font(font, size);
    content.next_line(x, y);
    content.show(Str(&bytes));
    content.end_text();
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(data.len() / 3),
        flate2::Compression::default(),
    );
    // Writing into memory cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

// ----- text: encoding, metrics, wrapping -----

/// `text` in WinAnsiEncoding: Latin-1 as itself, the typographic marks of
/// 0x80–0x9F at their codes, tabs and line breaks as spaces, anything else
/// `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars().map(win_ansi_byte).collect()
}

fn win_ansi_byte(c: char) -> u8 {
    match c {
        ' '..='~' => c as u8,
        '\t' | '\n' | '\r' => b' ',
        '\u{A0}'..='\u{FF}' => u32::from(c).try_into().unwrap_or(b'?'),
        _ => WIN_ANSI_EXTRA
            .iter()
            .find(|(extra, _)| *extra == c)
            .map_or(b'?', |(_, byte)| *byte),
    }
}

/// The characters WinAnsiEncoding puts in 0x80–0x9F.
const WIN_ANSI_EXTRA: [(char, u8); 27] = [
    ('€', 0x80),
    ('‚', 0x82),
    ('ƒ', 0x83),
    ('„', 0x84),
    ('…', 0x85),
    ('†', 0x86),
    ('‡', 0x87),
    ('ˆ', 0x88),
    ('‰', 0x89),
    ('Š', 0x8A),
    ('‹', 0x8B),
    ('Œ', 0x8C),
    ('Ž', 0x8E),
    ('‘', 0x91),
    ('’', 0x92),
    ('“', 0x93),
    ('”', 0x94),
    ('•', 0x95),
    ('–', 0x96),
    ('—', 0x97),
    ('˜', 0x98),
    ('™', 0x99),
    ('š', 0x9A),
    ('›', 0x9B),
    ('œ', 0x9C),
    ('ž', 0x9E),
    ('Ÿ', 0x9F),
];

/// Helvetica's advance widths (1/1000 em) for ' ' through '~'.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// Helvetica-Bold's advance widths for ' ' through '~'.
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

fn char_width(c: char, bold: bool) -> f32 {
    let table = if bold { &HELVETICA_BOLD } else { &HELVETICA };
    let units = match win_ansi_byte(c) {
        b @ 0x20..=0x7E => table[usize::from(b - 0x20)],
        0x85 | 0x89 | 0x97 => 1000,
        0x95 => 350,
        // Accented letters and the rest: about an average lowercase glyph.
        _ => 556,
    };
    f32::from(units) / 1000.0
}

/// The printed width of `text` at `size` points.
fn measure(text: &str, bold: bool, size: f32) -> f32 {
    text.chars().map(|c| char_width(c, bold)).sum::<f32>() * size
}

/// `text` cut to fit `width`, with an ellipsis when cut.
fn clip(text: &str, bold: bool, size: f32, width: f32) -> String {
    if measure(text, bold, size) <= width {
        return text.to_owned();
    }
    let budget = width - measure("…", bold, size);
    let mut out = String::new();
    let mut used = 0.0;
    for c in text.chars() {
        let w = char_width(c, bold) * size;
        if used + w > budget {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// `text` broken into lines no wider than `width`: at its own line breaks,
/// then between words, and inside a word only when the word alone is too
/// wide. Always at least one line.
fn wrap(text: &str, bold: bool, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if measure(&candidate, bold, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone: split it where it overflows.
            for c in word.chars() {
                let mut next = line.clone();
                next.push(c);
                if !line.is_empty() && measure(&next, bold, size) > width {
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                } else {
                    line = next;
                }
            }
        }
        lines.push(line);
    }
    lines
}

/// The text a PDF written by [`Document::render`] shows, one line per text
/// run, in page order: for tests that check what a document says.
#[cfg(any(test, feature = "testing"))]
pub fn text_of(pdf: &[u8]) -> String {
    use std::io::Read as _;
    let mut out = String::new();
    let mut rest = pdf;
    while let Some(start) = find(rest, b"stream\n") {
        let body = &rest[start + 7..];
        let Some(end) = find(body, b"\nendstream") else {
            break;
        };
        // Image samples show no text.
        let dict = &rest[..start];
        let dict = &dict[dict.windows(3).rposition(|w| w == b"obj").unwrap_or(0)..];
        if find(dict, b"/Image").is_some() {
            rest = &body[end + b"\nendstream".len()..];
            continue;
        }
        let mut raw = Vec::new();
        if flate2::read::ZlibDecoder::new(&body[..end])
            .read_to_end(&mut raw)
            .is_ok()
        {
            shown_strings(&raw, &mut out);
        }
        rest = &body[end + b"\nendstream".len()..];
    }
    out
}

#[cfg(any(test, feature = "testing"))]
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Appends every string a content stream shows (`(…) Tj` or `<…> Tj`),
/// one per line, decoded from WinAnsi.
#[cfg(any(test, feature = "testing"))]
fn shown_strings(content: &[u8], out: &mut String) {
    let mut i = 0;
    while i < content.len() {
        let mut text = Vec::new();
        match content[i] {
            b'(' => {
                i += 1;
                let mut depth = 0;
                while i < content.len() {
                    match content[i] {
                        b'\\' if i + 1 < content.len() => {
                            i += 1;
                            let c = content[i];
                            if c.is_ascii_digit() {
                                let digits: Vec<u8> = content[i..]
                                    .iter()
                                    .take(3)
                                    .take_while(|d| (b'0'..=b'7').contains(d))
                                    .copied()
                                    .collect();
                                i += digits.len() - 1;
                                let value =
                                    digits.iter().fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
                                text.push(u8::try_from(value).unwrap_or(b'?'));
                            } else {
                                text.push(match c {
                                    b'n' => b'\n',
                                    b't' => b'\t',
                                    b'r' => b'\r',
                                    other => other,
                                });
                            }
                        }
                        b'(' => {
                            depth += 1;
                            text.push(b'(');
                        }
                        b')' if depth == 0 => break,
                        b')' => {
                            depth -= 1;
                            text.push(b')');
                        }
                        c => text.push(c),
                    }
                    i += 1;
                }
            }
            b'<' if content.get(i + 1) != Some(&b'<') => {
                let end = content[i..]
                    .iter()
                    .position(|c| *c == b'>')
                    .map_or(content.len(), |p| i + p);
                let hex: Vec<u8> = content[i + 1..end]
                    .iter()
                    .filter(|c| c.is_ascii_hexdigit())
                    .copied()
                    .collect();
                for pair in hex.chunks(2) {
                    let s = std::str::from_utf8(pair).unwrap_or("3F");
                    text.push(u8::from_str_radix(s, 16).unwrap_or(b'?'));
                }
                i = end;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 1;
        let after = &content[i.min(content.len())..];
        let after = after.strip_prefix(b" ").unwrap_or(after);
        if after.starts_with(b"Tj") {
            out.extend(text.iter().map(|b| {
                WIN_ANSI_EXTRA
                    .iter()
                    .find(|(_, byte)| byte == b)
                    .map_or(char::from(*b), |(c, _)| *c)
            }));
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_whole_and_splits_only_long_ones() {
        let lines = wrap("Room B12 is booked", false, 10.0, 60.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| measure(l, false, 10.0) <= 60.0));
        assert_eq!(lines.join(" "), "Room B12 is booked");
        let long = wrap(&"W".repeat(40), true, 10.0, 50.0);
        assert!(long.len() > 1);
        assert_eq!(long.concat(), "W".repeat(40));
        assert_eq!(wrap("a\n\nb", false, 10.0, 100.0), ["a", "", "b"]);
        assert_eq!(wrap("", false, 10.0, 100.0), [""]);
    }

    #[test]
    fn text_is_encoded_in_win_ansi() {
        assert_eq!(win_ansi("Café – 10 €"), b"Caf\xE9 \x96 10 \x80");
        assert_eq!(win_ansi("日本"), b"??");
        assert!(clip("a long running title", false, 8.0, 40.0).ends_with('…'));
    }

    #[test]
    fn a_logo_is_drawn_beside_the_title() {
        assert!(Image::rgb(2, 2, vec![0; 11]).is_none());
        assert!(Image::rgb(0, 0, Vec::new()).is_none());
        let image = Image::rgb(2, 1, vec![255, 0, 0, 0, 0, 255]).expect("image");
        assert!(image.clone().with_alpha(vec![255]).is_none());
        let image = image.with_alpha(vec![255, 128]).expect("alpha");
        let bytes = Document::landscape("Attendance")
            .logo(image)
            .line("Test Technical Institute")
            .render("Generated today");
        let raw = String::from_utf8_lossy(&bytes);
        assert!(raw.contains("/Subtype /Image"), "{raw}");
        assert!(raw.contains("/SMask"));
        assert!(raw.contains("/Im1"));
        let text = text_of(&bytes);
        assert!(
            text.starts_with("Attendance\nTest Technical Institute\n"),
            "{text}"
        );
        assert!(text.contains("Page 1 of 1"));
    }

    #[test]
    fn long_tables_break_across_pages_with_page_numbers() {
        let mut table = Table::new(vec![
            Column::new("#", 1.0).right(),
            Column::new("Name", 4.0),
        ]);
        for i in 0..200 {
            table.row([i.to_string(), format!("Trainee number {i}")]);
        }
        let doc = Document::new("Roll", Orientation::Portrait)
            .line("Class CS-1A")
            .heading("Trainees")
            .text("Everyone enrolled this term.")
            .table(table);
        let bytes = doc.render("Generated today");
        assert!(bytes.starts_with(b"%PDF-"));
        let raw = String::from_utf8_lossy(&bytes);
        assert!(raw.contains("/FlateDecode"));
        let text = text_of(&bytes);
        let pages = text.matches("Page ").count();
        assert!(pages >= 4, "{pages} pages");
        assert!(text.contains(&format!("Page {pages} of {pages}")));
        assert!(text.starts_with("Roll\nClass CS-1A\nTrainees\n"));
        // The header row repeats on every page.
        assert_eq!(text.matches("Name\n").count(), pages);
        assert!(text.contains("Trainee number 199\n"));
        // The running title heads every page after the first.
        assert_eq!(text.matches("Roll\n").count(), pages);
    }
}
